import type { Kafka } from 'kafkajs';
import { loadConfig } from '../../runtime/config';
import { createKafka, topicNames } from '../../runtime/kafka';
import { AvroTypes, type DeadLetter, type RevisionControl, type UsageRecord } from '../../schemas';
import { isSentinel } from '../core/dead-letter';
import { RevisionTracker } from './revision-tracker';

/**
 * An example downstream consumer of the rated topic: exact per-customer totals that follow
 * restatements (see revision-tracker.ts for the contract). It reads, read_committed, the control,
 * rated and dead-letter topics in one consumer group and reports totals whenever they change.
 *
 *   npx tsx processors/rated-consumer/example.ts [--config meterflow.yaml]
 *
 * A production consumer would persist its tracker (or re-read from the beginning on start, as this
 * one does: the topics are the source of truth).
 */
export async function consumeTotals(
  kafka: Kafka,
  topics: { control: string; rated: string; deadLetter: string },
  groupId: string,
  onChange: (totals: ReturnType<RevisionTracker['totals']>, tracker: RevisionTracker) => boolean | void,
): Promise<void> {
  const tracker = new RevisionTracker();
  const consumer = kafka.consumer({ groupId, readUncommitted: false });
  await consumer.connect();
  let last = '';
  try {
    for (const topic of [topics.control, topics.rated, topics.deadLetter])
      await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      consumer
        .run({
          eachBatch: async ({ batch }) => {
            for (const m of batch.messages) {
              if (!m.value || isSentinel(m.key)) continue;
              if (batch.topic === topics.control)
                tracker.onControl(AvroTypes.revisionControl.fromBuffer(m.value) as RevisionControl);
              else if (batch.topic === topics.rated)
                tracker.onRated(AvroTypes.usageRecord.fromBuffer(m.value) as UsageRecord);
              else tracker.onDeadLetter(AvroTypes.deadLetter.fromBuffer(m.value) as DeadLetter);
            }
            const totals = tracker.totals();
            const text = JSON.stringify(totals);
            if (text !== last) {
              last = text;
              if (onChange(totals, tracker) === true) resolve();
            }
          },
        })
        .catch(reject);
    });
  } finally {
    await consumer.disconnect();
  }
}

if (require.main === module) {
  const configPath =
    process.argv.indexOf('--config') > 0 ? process.argv[process.argv.indexOf('--config') + 1] : undefined;
  const { config } = loadConfig({ path: configPath });
  const names = topicNames(config);
  void consumeTotals(
    createKafka(config, 'example-consumer'),
    names,
    `${config.kafka.topic_prefix}.example-totals-${Date.now()}`,
    (totals) => {
      process.stdout.write(`${new Date().toISOString()} ${JSON.stringify(totals)}\n`);
    },
  );
}
