import crypto from 'node:crypto';

/**
 * The deterministic id of a source line: the same line of the same revision always gets the same
 * id, on every re-read and redelivery. It keys the raw, normalized, deduped and rated topics (so a
 * record always lands in the same partition and dedupe state is per partition) and is the
 * Elasticsearch _id. Lines of different revisions get different ids on purpose: revisions replace
 * each other whole, they are never merged line by line (no provider has a stable line-item key).
 */
export function recordIdOf(scope: string, revisionId: string, object: string, line: number): string {
  // crypto.hash (Node >= 20.12) is the one-shot form of createHash().update().digest(): the same
  // sha256, without a Hash object per row.
  return crypto.hash('sha256', `${scope}\u0000${revisionId}\u0000${object}\u0000${line}`, 'hex').slice(0, 32);
}

/**
 * The id of a first-party usage event (providers/platform): its idempotency key. The CloudEvents
 * specification makes `source` + `id` unique per distinct event, so a redelivered or re-sent event
 * gets the same id whatever revision, batch or period it arrives in; the ingest endpoint drops it
 * as a duplicate by this id, and the Elasticsearch _id (= x_RecordId) could not hold it twice in a
 * period's index anyway. A different prefix than recordIdOf's input keeps the two id spaces apart.
 */
export function eventRecordIdOf(source: string, id: string): string {
  return crypto.hash('sha256', `cloudevents\u0000${source}\u0000${id}`, 'hex').slice(0, 32);
}
