import type { MeterflowConfig } from './config';
import { ErrorCodes, TransientError } from './errors';
import { createKafka } from './kafka';

/** How long a one-off command waits for the brokers before it gives up. */
export const KAFKA_REACHABLE_TIMEOUT_MS = 15_000;

/**
 * Fails within `timeoutMs`, naming the brokers, the setting that lists them and the cause, when
 * none of them answers. For one-off commands (`replay`, `pricebook publish`): their clients retry
 * each request for minutes (runtime/kafka.ts), which suits a long-running stage riding out a
 * broker restart, but left a person looking at a silent terminal for over two minutes when the
 * address was wrong. Only this check is bounded: it uses a client of its own with few retries, and
 * the clients used afterwards keep theirs.
 */
export async function assertKafkaReachable(
  config: MeterflowConfig,
  component: string,
  timeoutMs = KAFKA_REACHABLE_TIMEOUT_MS,
): Promise<void> {
  const brokers = config.kafka.brokers.join(', ');
  // A few quick retries cover a broker that is just starting; the deadline bounds the whole check.
  const kafka = createKafka(config, `${component}-check`, undefined, {
    retries: 2,
    initialRetryTime: 300,
    maxRetryTime: 2_000,
  });
  const admin = kafka.admin();
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`no answer within ${Math.round(timeoutMs / 1000)} s`)),
      timeoutMs,
    );
  });
  try {
    await Promise.race([admin.connect().then(() => admin.describeCluster()), deadline]);
    await admin.disconnect();
  } catch (err) {
    // Not awaited: a connection attempt still in flight would hold the disconnect until its own
    // timeout, and the caller fails now anyway.
    void admin.disconnect().catch(() => undefined);
    throw new TransientError(
      ErrorCodes.NETWORK,
      `Kafka is not reachable at ${brokers} (kafka.brokers): ${(err as Error).message}`,
      { cause: err },
    );
  } finally {
    clearTimeout(timer);
  }
}
