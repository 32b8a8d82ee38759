/**
 * Pinned versions of the local stack. Each comes from a package registry through its ordinary
 * client (Maven, the Go module proxy, npm), is fetched or built once into the cache folder and
 * reused by every checkout on the machine.
 */
export const STACK_VERSIONS = {
  /** org.apache.kafka:kafka_2.13 and its runtime dependencies, KRaft mode. */
  kafka: '4.1.1',
  /** org.elasticsearch.distribution.integ-test-zip:elasticsearch (server + transport + x-pack core/security). */
  elasticsearch: '9.2.0',
  /** github.com/minio/minio: MinIO tags releases outside semver, so the module proxy serves a pseudo-version. */
  minio: 'v0.0.0-20260212201848-7aac2a2c5b7c',
  /** github.com/fsouza/fake-gcs-server */
  fakeGcsServer: 'v1.56.1',
  /** azurite (npm) */
  azurite: '3.35.0',
  /** github.com/Shopify/toxiproxy/v2 (the TCP fault proxy of test/faults) */
  toxiproxy: 'v2.12.0',
} as const;

/** Elasticsearch 9 needs Java 21+; the machine's default is 17. */
export const ES_JAVA_HOME_CANDIDATES = [
  '/usr/lib/jvm/temurin-25-jdk-amd64',
  '/usr/lib/jvm/temurin-21-jdk-amd64',
];
