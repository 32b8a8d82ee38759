import type { MeterflowConfig } from '../../runtime/config';
import { createElasticsearch } from '../../runtime/elasticsearch';
import { createKafka } from '../../runtime/kafka';

/*
 * What test and bench runs leave on the local stack, and its removal.
 *
 * The stack is kept across runs (and CI on a developer machine finds it running), so indices and
 * topics that runs create and do not delete add up: Elasticsearch refused new indices at its limit
 * of 1,000 open shards per node after about twenty runs, and the broker held a thousand stale
 * topics (6 GB), which slows its restart in the fault suite. Both carry their creation time in
 * their names, so anything older than a run can be recognized and deleted without a registry:
 *
 * - tests: uniqueName (test/integration/helpers.ts), `<prefix>-<Date.now() in base 36>-<6 hex>`,
 *   then what the index or topic is (`-usage`, `.rated`, ...);
 * - benches: `bench-[<scenario>-]<Date.now() in base 36>`, then what it is.
 *
 * Nothing else on the stack has either form.
 */
const NAMED_BY_TIME = [
  /^[a-z0-9-]+?-([0-9a-z]{8})-[0-9a-f]{6}(?:[-.]|$)/,
  /^bench-(?:[a-z]+-)*?([0-9a-z]{8})(?:[-.]|$)/,
];
/** A base-36 part decoding to before this is a word, not a time. */
const EARLIEST = Date.UTC(2024, 0, 1);
/** Longer than any suite's or scenario's run. */
export const STALE_AFTER_MS = 60 * 60_000;

/** When `name` was created, if it has a test's or bench's name; undefined for anything else. */
export function createdAtOfName(name: string): number | undefined {
  for (const form of NAMED_BY_TIME) {
    const part = form.exec(name)?.[1];
    if (part === undefined) continue;
    const ms = parseInt(part, 36);
    if (ms > EARLIEST && ms <= Date.now()) return ms;
  }
  return undefined;
}

/** The names among `names` that test or bench runs created before `cutoff` (ms). */
export function staleNames(names: readonly string[], cutoff: number): string[] {
  return names.filter((n) => {
    const created = createdAtOfName(n);
    return created !== undefined && created < cutoff;
  });
}

/** Deletes the indices and topics earlier runs left, says how many when there were any, and returns the counts. */
export async function pruneStaleResources(
  config: MeterflowConfig,
  say: (line: string) => void,
  olderThanMs = STALE_AFTER_MS,
): Promise<{ indices: number; topics: number }> {
  const cutoff = Date.now() - olderThanMs;
  const indices = await pruneIndices(config, cutoff);
  const topics = await pruneTopics(config, cutoff);
  if (indices + topics > 0) say(`deleted ${indices} indices and ${topics} topics left by earlier runs`);
  return { indices, topics };
}

// A few dozen names per request keep the URL and the admin request short.
const CHUNK = 50;

async function pruneIndices(config: MeterflowConfig, cutoff: number): Promise<number> {
  const es = createElasticsearch(config);
  try {
    const listed = await es.cat.indices({ h: 'index', format: 'json' });
    const stale = staleNames(
      listed.map((i) => i.index ?? ''),
      cutoff,
    );
    for (let i = 0; i < stale.length; i += CHUNK) {
      await es.indices.delete({ index: stale.slice(i, i + CHUNK), ignore_unavailable: true });
    }
    return stale.length;
  } finally {
    await es.close();
  }
}

async function pruneTopics(config: MeterflowConfig, cutoff: number): Promise<number> {
  const admin = createKafka(config, 'stale-resources').admin();
  await admin.connect();
  try {
    const stale = staleNames(await admin.listTopics(), cutoff);
    for (let i = 0; i < stale.length; i += CHUNK) {
      await admin.deleteTopics({ topics: stale.slice(i, i + CHUNK), timeout: 60_000 });
    }
    return stale.length;
  } finally {
    await admin.disconnect();
  }
}
