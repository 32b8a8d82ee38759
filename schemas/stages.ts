import type { KafkaMessage, Message } from 'kafkajs';

/**
 * The three kinds of stage, as Redpanda Connect and OpenMeter cut a pipeline: a Source brings
 * records in, a Processor turns records into records, a Sink takes them out. Each stage of
 * meterflow is one of these, whichever process runs it:
 *
 *   Source     collectors/core/collector.ts ExportSource: one per configured export (a bucket and
 *              its discovery); `meterflow rate` reads a local folder through the same functions
 *              (row admission, raw batches: collectors/core/raw-batches.ts).
 *   Processor  normalize, dedupe, price (processors/<stage>/stage.ts): a deterministic function of a
 *              batch of one partition; the Kafka transaction around it is TransactionalStage's.
 *              `meterflow rate` composes the same batch functions (normalizeBatch, DedupeState,
 *              rateRecord) without Kafka, and a test proves both paths give the same bytes.
 *   Sink       sinks/elasticsearch: consumes the rated topic until stopped, committing its offsets
 *              only after Elasticsearch acknowledged the documents.
 */

/** Messages a processor writes to one topic, in order, within the batch's transaction. */
export interface StageOutput {
  topic: string;
  messages: Message[];
}

/**
 * A processor: one partition's batch in, outputs (and dead letters) out. It must be deterministic
 * for the same input, because a batch whose transaction aborted is processed again.
 */
export type Processor = (
  messages: KafkaMessage[],
  topic: string,
  partition: number,
) => Promise<StageOutput[]>;

/** A sink: runs from start() until stop(), delivering at least once and idempotently by record id. */
export interface Sink {
  start(): Promise<void>;
  stop(): Promise<void>;
}
