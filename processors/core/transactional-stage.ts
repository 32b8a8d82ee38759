import type { Consumer, Kafka, Producer } from 'kafkajs';
import type { Logger } from '../../runtime/logger';
import type { StageMetrics } from '../../runtime/metrics';
import { CONSUMER_MAX_WAIT_MS, endOfFetch, sendChunked, sendOffsetsRetrying } from '../../runtime/kafka';
import type { Processor } from '../../schemas/stages';
import { ConsumerHealth } from '../../runtime/consumer-health';
import { NotReady } from '../../runtime/http-server';

/**
 * Read-process-write with Kafka transactions, for the stateless processors.
 *
 * Ordering, per fetched batch of one input partition:
 *   1. process the batch into output messages (and dead letters);
 *   2. begin a transaction; send the outputs;
 *   3. send the consumer offsets (last offset + 1) INSIDE the transaction;
 *   4. commit. Outputs and the input position become visible together or not at all.
 * A stage killed at any instant restarts from the last committed offsets and re-produces only what
 * was aborted, so read_committed consumers of the output see each record once.
 *
 * kafkajs cannot fence a stale instance after a rebalance (no per-partition transactional ids, no
 * KIP-447 group-metadata fencing): an instance that lost a partition but has not noticed yet may
 * still commit one in-flight batch that the new owner also produces. Every record is therefore
 * keyed by its deterministic x_RecordId, and the next stages (dedupe, the Elasticsearch _id) are
 * idempotent on it, so such a duplicate never reaches a total.
 */
export type { StageOutput } from '../../schemas/stages';

export interface TransactionalStageOptions {
  kafka: Kafka;
  name: string;
  groupId: string;
  /** Stable per instance (pod name): a restarted instance then fences its predecessor's transactions. */
  transactionalId: string;
  inputTopics: string[];
  logger: Logger;
  metrics: StageMetrics;
  /** Turn one partition's batch into outputs. Must be deterministic for the same input. */
  process: Processor;
  /** Called when partitions are assigned, before any batch of them is processed (state rebuild). */
  onAssigned?: (assignment: Array<{ topic: string; partitions: number[] }>) => Promise<void>;
  fromBeginning?: boolean;
  sessionTimeoutMs?: number;
  /** Runs after the transactional producer is ready and before consuming (state rebuild). */
  beforeConsume?: (producer: Producer) => Promise<void>;
  /** The consumer stopped on an error kafkajs does not restart from (see ConsumerHealth). */
  onFatal?: (err: Error) => void;
  /** The batch's transaction committed: in-memory state may now reflect it (dedupe's seen ids). */
  onCommitted?: () => void;
  /**
   * The batch failed before its transaction committed (processing threw, or the transaction
   * aborted): in-memory state must forget it, because the batch will be delivered again.
   */
  onAborted?: () => void;
}

export class TransactionalStage {
  private consumer: Consumer | undefined;
  private producer: Producer | undefined;
  private batches = 0;
  private health: ConsumerHealth | undefined;

  constructor(private readonly o: TransactionalStageOptions) {}

  get name(): string {
    return this.o.name;
  }

  get processedBatches(): number {
    return this.batches;
  }

  async start(): Promise<void> {
    const { kafka } = this.o;
    this.producer = kafka.producer({
      transactionalId: this.o.transactionalId,
      idempotent: true,
      maxInFlightRequests: 1,
    });
    await this.producer.connect();
    await this.o.beforeConsume?.(this.producer);
    this.consumer = kafka.consumer({
      groupId: this.o.groupId,
      readUncommitted: false,
      maxBytesPerPartition: 4 * 1024 * 1024,
      maxWaitTimeInMs: CONSUMER_MAX_WAIT_MS,
    });
    this.health = new ConsumerHealth(this.consumer, `processor.${this.o.name}`, this.o.onFatal);
    await this.consumer.connect();
    if (this.o.onAssigned) {
      this.consumer.on(this.consumer.events.GROUP_JOIN, (e) => {
        const assignment = Object.entries(e.payload.memberAssignment).map(([topic, partitions]) => ({
          topic,
          partitions,
        }));
        void this.o.onAssigned!(assignment).catch((err) =>
          this.o.logger.error({ err }, 'state rebuild failed'),
        );
      });
    }
    for (const topic of this.o.inputTopics)
      await this.consumer.subscribe({ topic, fromBeginning: this.o.fromBeginning ?? true });
    await this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale }) => {
        if (!isRunning() || isStale() || batch.messages.length === 0) return;
        this.o.metrics.received(batch.messages.length);
        let outputs;
        try {
          outputs = (await this.o.process(batch.messages, batch.topic, batch.partition)).filter(
            (o) => o.messages.length > 0,
          );
        } catch (err) {
          this.o.onAborted?.();
          throw err;
        }
        const last = batch.messages[batch.messages.length - 1].offset;
        // The commit is the end of the fetch (past a trailing commit marker): nothing past the
        // last message is ours to process.
        const end = endOfFetch(batch);
        const tx = await this.producer!.transaction();
        try {
          if (outputs.length) await sendChunked(tx, outputs);
          await sendOffsetsRetrying(tx, {
            consumerGroupId: this.o.groupId,
            topics: [{ topic: batch.topic, partitions: [{ partition: batch.partition, offset: end }] }],
          });
          await tx.commit();
        } catch (err) {
          await tx.abort().catch(() => undefined);
          this.o.onAborted?.();
          throw err; // kafkajs restarts the consumer from the last committed offsets
        }
        // Only now is the batch's output part of the topics; state that mirrors it may follow.
        this.o.onCommitted?.();
        resolveOffset(last);
        this.batches++;
        await heartbeat();
      },
    });
  }

  /** For /readyz: throws NotReady unless the stage's consumer is a member of its group. */
  checkReady(): void {
    if (!this.health) throw new NotReady(`processor.${this.o.name}: not started`);
    this.health.check();
  }

  async stop(): Promise<void> {
    await this.consumer?.disconnect();
    await this.producer?.disconnect();
  }
}
