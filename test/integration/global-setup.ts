import { loadConfig } from '../../runtime/config';
import { createElasticsearch } from '../../runtime/elasticsearch';
import { stackContext, stackStatus, stackUp } from '../../deploy/stack/stack';

/**
 * Integration tests run against the real local stack. If it is not running, bring it up (this
 * installs the servers on a fresh machine, which is why `npm test` alone is enough there). The
 * stack is left running afterwards so the next run starts at once; `meterflow stack down` stops it.
 */
export default async function globalSetup(): Promise<void> {
  const { config } = loadConfig();
  const ctx = stackContext(config, (line) => process.stderr.write(`[stack] ${line}\n`));
  const statuses = await stackStatus(ctx);
  if (!statuses.every((s) => s.healthy)) {
    process.stderr.write(
      `\n[stack] bringing up: ${statuses
        .filter((s) => !s.healthy)
        .map((s) => s.name)
        .join(', ')}\n`,
    );
    await stackUp(ctx);
  }
  await pruneStaleTestIndices(config);
}

/**
 * A test names its indices with uniqueName (helpers.ts): `<prefix>-<Date.now() in base 36>-<6 hex>`,
 * then what the index is. Not every test deletes them, and a stack kept across runs collected them
 * until Elasticsearch refused new indices at its limit of 1,000 open shards per node (a whole run
 * failed that way). Indices of that form created over an hour ago belong to earlier runs, whatever
 * suite made them (a run of any suite takes well under an hour), so they are deleted here; nothing
 * else matches the form.
 */
const TEST_INDEX = /^[a-z0-9-]+?-([0-9a-z]{8})-[0-9a-f]{6}(?:-|$)/;
const STALE_AFTER_MS = 60 * 60_000;
/** A base-36 part decoding to before this is a word, not a time. */
const EARLIEST = Date.UTC(2024, 0, 1);

async function pruneStaleTestIndices(config: ReturnType<typeof loadConfig>['config']): Promise<void> {
  const es = createElasticsearch(config);
  try {
    const indices = await es.cat.indices({ h: 'index', format: 'json' });
    const cutoff = Date.now() - STALE_AFTER_MS;
    const stale = indices
      .map((i) => i.index ?? '')
      .filter((name) => {
        const created = TEST_INDEX.exec(name)?.[1];
        if (created === undefined) return false;
        const ms = parseInt(created, 36);
        return ms > EARLIEST && ms < cutoff;
      });
    // A few dozen names per request keep the URL short.
    for (let i = 0; i < stale.length; i += 50) {
      await es.indices.delete({ index: stale.slice(i, i + 50), ignore_unavailable: true });
    }
    if (stale.length > 0)
      process.stderr.write(`[stack] deleted ${stale.length} indices left by earlier test runs\n`);
  } finally {
    await es.close();
  }
}
