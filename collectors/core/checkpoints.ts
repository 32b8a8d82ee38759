import type { Kafka, Producer } from 'kafkajs';
import { readToSentinel } from '../../runtime/kafka';

/**
 * Collector checkpoints live in Kafka, in a single-partition compacted topic keyed by scope, so a
 * collector holds no local state and any replacement instance can take over.
 *
 * A checkpoint is written in the SAME Kafka transaction as the rows it covers, so the two can never
 * disagree: after a crash, a read_committed reader sees either the rows and the checkpoint that
 * covers them, or neither. On start-up the collector reads the topic to its end: it commits a
 * sentinel record (its own nonce) through its transactional producer, then reads until that nonce
 * appears. Transaction markers make "the end" of a transactional topic hard to tell from offsets
 * alone; the sentinel makes it exact.
 */
export interface Checkpoint {
  scope: string;
  revision_id: string;
  state: 'in_progress' | 'completed' | 'failed';
  /** Index in the revision's file list of the object holding the last produced line. */
  file_index: number;
  /** Last line produced (or dead-lettered) in that object; 0 before the first. */
  line: number;
  rows: number;
  dead_letters: number;
  /** currency -> exact decimal text and row count, over the rows produced so far. */
  totals: Record<string, { billed_cost: string; rows: number }>;
  started_at: string;
  updated_at: string;
  error?: string;
}

export function checkpointMessage(cp: Checkpoint): { key: string; value: string } {
  return { key: cp.scope, value: JSON.stringify(cp) };
}

/** A checkpoint record that is not a checkpoint (not JSON, or not the shape above). */
export interface CorruptCheckpoint {
  scope: string;
  partition: number;
  offset: string;
  error: string;
}

/** The checkpoint in a record's value, or an error saying why it is not one. */
export function parseCheckpoint(scope: string, value: string): Checkpoint | Error {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch (err) {
    return new Error(`not JSON: ${(err as Error).message}`);
  }
  const cp = parsed as Partial<Checkpoint> | null;
  if (
    cp === null ||
    typeof cp !== 'object' ||
    cp.scope !== scope ||
    typeof cp.revision_id !== 'string' ||
    !['in_progress', 'completed', 'failed'].includes(String(cp.state)) ||
    typeof cp.file_index !== 'number' ||
    typeof cp.line !== 'number'
  ) {
    return new Error('not a checkpoint (scope, revision_id, state, file_index and line are required)');
  }
  return cp as Checkpoint;
}

/**
 * Reads every checkpoint. A record that is not a checkpoint must not stop the collector (it would
 * time out at every start, a crash loop that blocks every export of the cloud): it is reported
 * through `onCorrupt` and its scope is treated as having no checkpoint, so the scope's current
 * revision is written again from its first line. That is safe: the rows get the same record ids,
 * which dedupe and the sink's document ids absorb.
 */
export async function loadCheckpoints(
  kafka: Kafka,
  producer: Producer,
  topic: string,
  instance: string,
  onCorrupt: (c: CorruptCheckpoint) => void,
  timeoutMs = 60_000,
): Promise<Map<string, Checkpoint>> {
  const checkpoints = new Map<string, Checkpoint>();
  await readToSentinel(
    kafka,
    producer,
    topic,
    instance,
    ({ key, value, partition, offset }) => {
      // A null value is a tombstone: the scope's checkpoint was deleted.
      if (value === undefined) {
        checkpoints.delete(key);
        return;
      }
      const cp = parseCheckpoint(key, value);
      if (cp instanceof Error) {
        checkpoints.delete(key);
        onCorrupt({ scope: key, partition, offset, error: cp.message });
      } else checkpoints.set(key, cp);
    },
    timeoutMs,
  );
  return checkpoints;
}
