import { z } from 'zod';
import { TlsSchema, num, str, strList } from './config-schema';

/** The `kafka:` section of meterflow.yaml. */
export const KafkaConfigSchema = z
  .object({
    brokers: strList(
      'Bootstrap brokers, host:port. Empty: the local stack broker (with local_stack: true).',
    ).default([]),
    client_id: str('Kafka client id prefix; each stage appends its name.').default('meterflow'),
    connection_timeout_ms: num('Timeout to open a broker connection.').default(10_000),
    request_timeout_ms: num('Timeout of one broker request.').default(30_000),
    tls: TlsSchema.prefault({}).describe('TLS to the brokers.'),
    sasl: z
      .object({
        mechanism: z.enum(['plain', 'scram-sha-256', 'scram-sha-512']).describe('SASL mechanism.'),
        username: str('SASL user name.'),
        password: str('SASL password. Prefer METERFLOW_KAFKA__SASL__PASSWORD to writing it in the file.'),
      })
      .strict()
      .optional()
      .describe('SASL authentication; none when unset.'),
    topic_prefix: str(
      'Prefix of every topic meterflow creates and reads: <prefix>.raw.aws, <prefix>.rated, ...',
    ).default('meterflow'),
    topic_partitions: num('Partitions of the topics meterflow creates when they are missing.').default(3),
    topic_replication_factor: num(
      'Replication factor of the topics meterflow creates. Default 1 with local_stack (one broker), 3 without.',
    ).default(1),
    topic_min_insync_replicas: num(
      'min.insync.replicas of the topics meterflow creates: replicas that must hold a write before it is acknowledged (producers use acks=all). Default 1 with local_stack, 2 without.',
    ).default(1),
    topic_retention_days: z
      .object({
        raw: num('Raw rows (a buffer: the export itself stays in object storage).').default(30),
        normalized: num('Normalized rows, between normalize and dedupe.').default(30),
        deduped: num(
          'Deduplicated rows, between dedupe and price (dedupe also rebuilds its state from them).',
        ).default(30),
        rated: num('Rated usage: the product, which downstream consumers and a replay read.').default(400),
        control: num('Revision control records (a replay of the rated topic needs them).').default(400),
        dead_letter: num('Dead letters (`meterflow replay` reads them).').default(400),
        audit: num('Audit events.').default(0),
      })
      .strict()
      .prefault({})
      .describe(
        'Days Kafka keeps each topic meterflow creates (0: forever). The price-book and collector-checkpoints topics are compacted instead.',
      ),
  })
  .strict();
