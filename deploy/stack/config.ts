import { z } from 'zod';
import { num, str } from '../../runtime/config-schema';

/** The `stack:` section of meterflow.yaml: the local stack `meterflow stack up` runs. */
export const StackConfigSchema = z
  .object({
    state_dir: str(
      'Folder (relative to the working directory) for the local stack data, logs and pid files.',
    ).default('.meterflow'),
    cache_dir: str(
      'Folder for downloaded and built server artifacts, shared by every checkout. Default ~/.cache/meterflow.',
    ).optional(),
    elasticsearch_heap_mb: num('Elasticsearch JVM heap (min and max).').default(1024),
    elasticsearch_user: str(
      'Non-root user Elasticsearch runs as when meterflow runs as root (created if missing).',
    ).default('meterflow'),
    ports: z
      .object({
        kafka: num('Kafka broker listener.').default(9092),
        kafka_controller: num('Kafka KRaft controller listener.').default(9093),
        kafka_secure: num(
          'SASL_SSL listener of the optional secured Kafka broker (`stack up kafka-secure`).',
        ).default(9094),
        kafka_secure_controller: num(
          'KRaft controller listener of the optional secured Kafka broker.',
        ).default(9095),
        elasticsearch: num('Elasticsearch HTTP.').default(9200),
        elasticsearch_transport: num('Elasticsearch transport.').default(9300),
        elasticsearch_secure: num(
          'HTTPS of the optional secured Elasticsearch node (`stack up elasticsearch-secure`).',
        ).default(9201),
        elasticsearch_secure_transport: num('Transport of the optional secured Elasticsearch node.').default(
          9301,
        ),
        s3: num('S3 server (MinIO) API.').default(9000),
        s3_console: num('MinIO console.').default(9001),
        gcs: num('fake-gcs-server.').default(4443),
        azure_blob: num('Azurite blob service.').default(10000),
        toxiproxy: num('toxiproxy API (the fault-injection tests create their proxies through it).').default(
          8474,
        ),
      })
      .strict()
      .prefault({}),
    elasticsearch_secure_password: str(
      'Password of meterflow-admin, the superuser of the optional secured Elasticsearch node (local testing only).',
    ).default('meterflow-local-admin'),
    kafka_secure_password: str(
      'SCRAM password of every user of the optional secured Kafka broker (local testing only).',
    ).default('meterflow-local-kafka'),
    s3_access_key: str('Root user of the local S3 server.').default('meterflow'),
    s3_secret_key: str('Root password of the local S3 server.').default('meterflow-local-secret'),
  })
  .strict();
