import type { Kafka, Producer } from 'kafkajs';
import { readToSentinel } from '../../runtime/kafka';
import { publishKey } from '../../sinks/elasticsearch/indices';

/**
 * Re-rate checkpoints, on the compacted one-partition topic `<prefix>.rerate-checkpoints`, keyed by
 * scope and re-rated revision (`<scope>@<source>+rr-<version>`: the scope and the version, and the
 * published revision that was re-rated, so re-rating a later restatement of the scope with the same
 * version is not taken for done).
 *
 * A checkpoint is written in the SAME Kafka transaction as the scope's re-rated records and its
 * STARTED / COMPLETED control records. After a crash (kill -9 included) a read_committed reader sees
 * the scope's records and its checkpoint, or neither: a scope with a checkpoint is complete and is
 * skipped; a scope without one has written nothing anyone reads, and is re-rated from the start.
 * That is why each record is re-rated exactly once.
 */
export interface RerateCheckpoint {
  scope: string;
  /** The published revision that was re-rated. */
  source_revision: string;
  /** The revision written: rerateRevisionId(source_revision, version). */
  revision_id: string;
  version: string;
  from: string;
  records: number;
  rerated: number;
  /** x_RatedCost of the re-rated records before and after, per rated currency (exact text). */
  old_totals: Record<string, string>;
  new_totals: Record<string, string>;
  at: string;
}

export const checkpointKey = (scope: string, revisionId: string) => publishKey(scope, revisionId);

export function checkpointMessage(cp: RerateCheckpoint): { key: string; value: string } {
  return { key: checkpointKey(cp.scope, cp.revision_id), value: JSON.stringify(cp) };
}

/** The checkpoint a record holds, or undefined when it holds none (a tombstone, or not ours). */
export function parseCheckpoint(key: string, value: string | undefined): RerateCheckpoint | undefined {
  if (value === undefined) return undefined;
  try {
    const cp = JSON.parse(value) as Partial<RerateCheckpoint> | null;
    if (
      cp &&
      typeof cp.scope === 'string' &&
      typeof cp.revision_id === 'string' &&
      typeof cp.version === 'string' &&
      checkpointKey(cp.scope, cp.revision_id) === key
    )
      return cp as RerateCheckpoint;
  } catch {
    // Not JSON: treated as no checkpoint (the scope is re-rated; see loadRerateCheckpoints).
  }
  return undefined;
}

/**
 * The end of a re-rate run (version and date), written after its audit event: the checkpoints of
 * the same version and date BEFORE it belong to finished runs, those after it to the run that is
 * being resumed, whose audit event must count them although their scopes may have been published
 * (and so no longer look affected) meanwhile. Keyed `run@<version>@<from>`, kept by compaction.
 */
export interface RerateRunEnd {
  version: string;
  from: string;
  scopes: number;
  at: string;
}

export const runEndKey = (version: string, from: string) => `run@${version}@${from}`;

export function runEndMessage(end: RerateRunEnd): { key: string; value: string } {
  return { key: runEndKey(end.version, end.from), value: JSON.stringify(end) };
}

/** What the topic holds, in topic order (one partition). */
export interface RerateState {
  checkpoints: Map<string, RerateCheckpoint & { offset: bigint }>;
  runEnds: Map<string, bigint>;
}

/** The checkpoints of the run of `version` and `from` that has not ended (see RerateRunEnd). */
export function openRunCheckpoints(state: RerateState, version: string, from: string): RerateCheckpoint[] {
  const ended = state.runEnds.get(runEndKey(version, from)) ?? -1n;
  return [...state.checkpoints.values()]
    .filter((cp) => cp.version === version && cp.from === from && cp.offset > ended)
    .map(({ offset: _offset, ...cp }) => cp);
}

/**
 * Every committed checkpoint and run end. Reading to the end commits a sentinel through `producer`
 * first (runtime/kafka.ts readToSentinel): that also fences a killed re-rate's open transaction
 * (same transactional id), so a half-written scope is aborted before we decide what is done.
 * A record that is not a checkpoint counts as none: its scope is re-rated again, under the same
 * revision id and so the same record ids, which the sink's document ids absorb.
 */
export async function loadRerateCheckpoints(
  kafka: Kafka,
  producer: Producer,
  topic: string,
): Promise<RerateState> {
  const state: RerateState = { checkpoints: new Map(), runEnds: new Map() };
  await readToSentinel(kafka, producer, topic, 'rerate', ({ key, value, offset }) => {
    if (key.startsWith('run@')) {
      if (value === undefined) state.runEnds.delete(key);
      else state.runEnds.set(key, BigInt(offset));
      return;
    }
    const cp = parseCheckpoint(key, value);
    if (cp) state.checkpoints.set(key, { ...cp, offset: BigInt(offset) });
    else state.checkpoints.delete(key);
  });
  return state;
}
