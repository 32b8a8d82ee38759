import { z } from 'zod';

const int = (description: string) =>
  z
    .preprocess(
      (v) => (typeof v === 'string' && v.trim() !== '' ? Number(v) : v),
      z.number().int().nonnegative(),
    )
    .describe(description);

/** Options of `meterflow sink elasticsearch` and its revision publisher (snake_case, all defaulted). */
export const SinkOptionsSchema = z
  .object({
    bulk_max_docs: int('Most actions in one bulk request.').default(2000),
    bulk_max_bytes: int('About the most bytes in one bulk request.').default(8 * 1024 * 1024),
    bulk_concurrency: int('Bulk requests of one partition in flight at once.').default(2),
    partitions_concurrently: int('Partitions whose batches are indexed at the same time.').default(3),
    retry_base_delay_ms: int(
      'First backoff step for 429/5xx items and an unreachable cluster (full jitter).',
    ).default(200),
    retry_max_delay_ms: int(
      'Longest backoff step. An unreachable cluster is retried for as long as it takes: consumption pauses, heartbeats go on.',
    ).default(15_000),
    session_timeout_ms: int('Consumer group session timeout.').default(30_000),
    group_id: z
      .string()
      .min(1)
      .optional()
      .describe(
        'Consumer group of the sink. Default `<kafka.topic_prefix>-sink-elasticsearch`. A second sink that replays the same topics into another index prefix or cluster needs a group of its own.',
      ),
    publisher: z
      .preprocess(
        (v) => (typeof v === 'string' ? ['1', 'true', 'yes', 'on'].includes(v.trim().toLowerCase()) : v),
        z.boolean(),
      )
      .default(true)
      .describe(
        'Run the revision publisher in this sink process. Run it in exactly one instance when several sinks share a cluster.',
      ),
    publish_interval_ms: int('How often the publisher reconciles and publishes complete revisions.').default(
      2000,
    ),
    // 400 days: every invoice of the last twelve months, plus the month after a year-end close, can
    // be regenerated bit for bit and its usage queried as known when it was billed; that is the
    // look-back billing disputes and annual audits usually need. Each restatement keeps one more
    // copy of its scope's documents for that long: lower it when restatements are frequent and
    // disk is short.
    history_retention_days: int(
      'Days the usage documents of a superseded revision are kept (invisible in the published alias) for "as known at" queries and bit-for-bit invoice regeneration (docs/history.md). 0 deletes them at once, as before history existed.',
    ).default(400),
    replicas: int(
      'number_of_replicas of every meterflow index. Default 0 with local_stack (one node), 1 without.',
    ).default(0),
    refresh_interval: z.string().min(1).default('1s').describe('refresh_interval of the usage indices.'),
  })
  .strict();

export type SinkOptions = z.output<typeof SinkOptionsSchema>;
