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
      'Replication factor of the topics meterflow creates (1 on the local stack).',
    ).default(1),
  })
  .strict();
