/**
 * Runs `fn` while heartbeating the consumer group every `everyMs`. A bulk request can take longer
 * than the group's session timeout (Elasticsearch's request timeout is 60 s by default, the session
 * 30 s): without heartbeats meanwhile, a slow or hanging cluster would look like a dead consumer,
 * and the rebalance would move the partition mid-bulk. A failed heartbeat (a rebalance already
 * under way) is left to the batch loop, which sees the stale batch and stops.
 */
export async function withHeartbeats<T>(
  heartbeat: () => Promise<void>,
  everyMs: number,
  fn: () => Promise<T>,
): Promise<T> {
  const pump = setInterval(() => void heartbeat().catch(() => undefined), everyMs);
  try {
    return await fn();
  } finally {
    clearInterval(pump);
  }
}
