import type { Client } from '@elastic/elasticsearch';
import type { Message, Producer } from 'kafkajs';
import type { MeterflowConfig } from '../../runtime/config';
import { auditEvent, recordAudit } from '../../runtime/audit';
import { createElasticsearch } from '../../runtime/elasticsearch';
import { ErrorCodes, PermanentError } from '../../runtime/errors';
import { createKafka, ensureTopics, sendChunked, topicNames } from '../../runtime/kafka';
import { createLogger } from '../../runtime/logger';
import { AvroTypes } from '../../schemas';
import { rerateRevisionId } from '../../schemas/revision-id';
import { indexNames, type IndexNames, type RevisionDocument } from '../../sinks/elasticsearch/indices';
import { accumulates } from '../../sinks/elasticsearch/visibility';
import { parsePriceBook, type PriceBook } from '../price/price-book';
import { readPublishedBook } from '../price/distribution';
import {
  checkpointKey,
  checkpointMessage,
  loadRerateCheckpoints,
  openRunCheckpoints,
  runEndMessage,
  type RerateCheckpoint,
} from './checkpoints';
import { affectedScopes, revisionDocument, revisionRecords, revisionsOf } from './published';
import { decideScope, parseFromDate, ScopeRerate, Totals, totalsEffect, type RerateFailure } from './rerate';

/**
 * `meterflow pricebook rerate <version> --from YYYY-MM-DD`: re-rates the published usage that the
 * currently published price book did not price, from a date on (docs/re-rating.md).
 *
 * ORDERING (what "each record re-rated exactly once" rests on):
 *   1. the version must be the one on the price-book topic (what the price stage rates with now);
 *   2. the affected scopes are found in the published alias, and each is decided: re-rate, skip
 *      (first-party), hold (a newer revision is on its way), or already done (a checkpoint);
 *   3. a dry pass re-prices every record of every scope to re-rate, in memory only: a book that
 *      cannot price a record (unpriced, no exchange rate) fails the run before anything is written;
 *   4. per scope, ONE Kafka transaction holds REVISION_STARTED, every re-rated record (rated topic),
 *      REVISION_COMPLETED with the row count and exact control totals, and the scope's checkpoint.
 *      The transactional id is fixed per topic prefix, so a re-rate started after a kill -9 fences
 *      the dead one's open transaction (aborted: its records are never read by read_committed
 *      consumers) before it reads the checkpoints; a scope is either whole with its checkpoint or
 *      absent, and a checkpointed scope is skipped;
 *   5. the audit event `pricebook.rerated` is written once every scope is done.
 * The sink indexes the new revision and the publisher publishes it once it reconciles, exactly
 * like a collector's restatement; the previous revision is kept as history.
 */

export interface RerateOptions {
  version: string;
  from: string;
}

export interface RerateSummary {
  version: string;
  from: string;
  /** Scopes written by this run, and scopes a killed run had committed already (checkpoints). */
  rerated: string[];
  resumed: string[];
  skipped: Array<{ scope: string; why: string }>;
  held: Array<{ scope: string; why: string }>;
  records: number;
  reratedRecords: number;
  totals: Array<{ currency: string; old: string; new: string; change: string }>;
}

interface Planned {
  scope: string;
  published: RevisionDocument;
  revisionId: string;
  records: number;
}

/** Test hook: pause inside the Nth scope's open transaction, so a test can kill the process there. */
const PAUSE_ENV = 'MF_TEST_RERATE_PAUSE_IN_SCOPE';

export async function runRerate(
  config: MeterflowConfig,
  o: RerateOptions,
  progress: (line: string) => void,
): Promise<RerateSummary> {
  const fromMs = parseFromDate(o.from);
  if (fromMs === undefined)
    throw new PermanentError(ErrorCodes.CONFIG_INVALID, `--from ${o.from}: expected a date YYYY-MM-DD`);
  const logger = createLogger({ level: config.log.level, component: 'pricebook.rerate' });
  const topics = topicNames(config);
  const kafka = createKafka(config, 'rerate', logger);
  await ensureTopics(kafka, config, [
    { topic: topics.priceBook },
    { topic: topics.rated },
    { topic: topics.control },
    { topic: topics.rerateCheckpoints },
  ]);
  const book = await currentBook(kafka, topics.priceBook, o.version);
  const es = createElasticsearch(config);
  const names = indexNames(config.elasticsearch.index_prefix);
  // Fixed per topic prefix: two re-rates never run at once (the second fences the first), and a
  // re-rate started after a crash aborts the crashed one's open transaction.
  const producer = kafka.producer({
    transactionalId: `${config.kafka.topic_prefix}-rerate`,
    idempotent: true,
    maxInFlightRequests: 1,
    // One scope is one transaction, and it may be large: 5 minutes to write it. A re-rate killed
    // mid-scope holds read_committed readers of the partitions it wrote (the sink) until the next
    // re-rate aborts its transaction at start (same transactional id) or this timeout passes.
    transactionTimeout: 300_000,
  });
  await producer.connect();
  try {
    const state = await loadRerateCheckpoints(kafka, producer, topics.rerateCheckpoints);
    const summary: RerateSummary = {
      version: o.version,
      from: o.from,
      rerated: [],
      resumed: [],
      skipped: [],
      held: [],
      records: 0,
      reratedRecords: 0,
      totals: [],
    };
    const oldTotals = new Totals();
    const newTotals = new Totals();
    const countCheckpoint = (cp: RerateCheckpoint) => {
      oldTotals.addAll(cp.old_totals);
      newTotals.addAll(cp.new_totals);
      summary.records += cp.records;
      summary.reratedRecords += cp.rerated;
    };

    // A killed run of the same version and date: its committed scopes count in this run's audit
    // event, whether or not the publisher has published them since (then they look unaffected).
    for (const cp of openRunCheckpoints(state, o.version, o.from)) {
      summary.resumed.push(cp.scope);
      countCheckpoint(cp);
    }

    // 2. decide
    const affected = await affectedScopes(es, names, o.from, o.version);
    const revisions = await revisionsOf(es, names, [...affected.keys()]);
    const plan: Planned[] = [];
    for (const [scope, published] of [...affected].sort(([a], [b]) => (a < b ? -1 : 1))) {
      const docs = revisions.get(scope) ?? [];
      const doc = docs.find((r) => r.revision_id === published[0] && r.state === 'published');
      if (published.length > 1 || (doc && accumulates(doc))) {
        summary.skipped.push({ scope, why: 'first-party events scope (accumulates seals)' });
        continue;
      }
      if (!doc) {
        summary.held.push({ scope, why: `no published revision document for ${published[0]}` });
        continue;
      }
      const revisionId = rerateRevisionId(doc.revision_id, o.version);
      // Committed already (by a killed run of this version, counted above if it had this date).
      if (state.checkpoints.has(checkpointKey(scope, revisionId))) continue;
      const decision = decideScope({ ...doc, accumulates: accumulates(doc) }, docs);
      if (decision.kind === 'skip') summary.skipped.push({ scope, why: decision.why });
      else if (decision.kind === 'hold') summary.held.push({ scope, why: decision.why });
      else plan.push({ scope, published: doc, revisionId, records: 0 });
    }

    // 3. dry pass: nothing is written unless the book prices every record
    const failures: Array<RerateFailure & { scope: string }> = [];
    for (const p of plan) {
      const dry = new ScopeRerate(p.scope, p.revisionId, book, fromMs);
      for await (const r of revisionRecords(es, names, p.scope, p.published.revision_id)) dry.add(r);
      p.records = dry.records;
      failures.push(...dry.failures.map((f) => ({ ...f, scope: p.scope })));
    }
    if (failures.length)
      throw new PermanentError(
        ErrorCodes.MALFORMED_INPUT,
        `price book ${o.version} cannot price ${failures.length} published record(s); nothing was re-rated. ` +
          failures
            .slice(0, 5)
            .map((f) => `${f.scope} record ${f.record_id}: ${f.reason}: ${f.message}`)
            .join('; '),
      );

    // 4. one transaction per scope
    const total = plan.reduce((a, p) => a + p.records, 0);
    let done = 0;
    const pauseAt = Number(process.env[PAUSE_ENV] ?? 0);
    for (const [i, p] of plan.entries()) {
      const s = await writeScope(
        es,
        names,
        producer,
        topics,
        book,
        fromMs,
        p,
        o,
        i + 1 === pauseAt,
        progress,
      );
      summary.rerated.push(p.scope);
      countCheckpoint(s);
      done += s.records;
      const change = totalsEffect(s.old_totals, s.new_totals)
        .map((t) => `${t.currency} ${t.old} -> ${t.new}`)
        .join(', ');
      progress(
        `rerate ${o.version}: scope ${i + 1}/${plan.length} ${p.scope} -> ${p.revisionId}: ` +
          `${s.records} records, ${s.rerated} re-rated${change ? ` (${change})` : ''}; ${done}/${total} records`,
      );
    }
    summary.totals = totalsEffect(oldTotals.toRecord(), newTotals.toRecord());

    // 5. audit, once the scopes are committed; then the run's end, so that a later run of the same
    // version and date does not count these scopes again. A crash between the two writes the audit
    // event again on the next run (at least once), never loses it.
    if (summary.rerated.length || summary.resumed.length) {
      await recordAudit(
        auditEvent('pricebook.rerated', `version ${o.version} from ${o.from}`, effect(summary)),
        logger,
        config,
      );
      // A transactional producer writes only in transactions.
      const tx = await producer.transaction();
      try {
        await tx.send({
          topic: topics.rerateCheckpoints,
          messages: [
            runEndMessage({
              version: o.version,
              from: o.from,
              scopes: summary.rerated.length + summary.resumed.length,
              at: new Date().toISOString(),
            }),
          ],
        });
        await tx.commit();
      } catch (err) {
        await tx.abort().catch(() => undefined);
        throw err;
      }
    }
    return summary;
  } finally {
    await producer.disconnect().catch(() => undefined);
    await es.close().catch(() => undefined);
  }
}

/** The audit event's effect: scopes, records and per currency old, new and change (exact text). */
export function effect(s: RerateSummary): Record<string, string | number> {
  const out: Record<string, string | number> = {
    version: s.version,
    from: s.from,
    scopes: s.rerated.length + s.resumed.length,
    scopes_resumed: s.resumed.length,
    scopes_held: s.held.length,
    scope_list: [...s.rerated, ...s.resumed].sort().join(','),
    records: s.records,
    rerated_records: s.reratedRecords,
  };
  for (const t of s.totals) {
    out[`old_total_${t.currency}`] = t.old;
    out[`new_total_${t.currency}`] = t.new;
    out[`change_${t.currency}`] = t.change;
  }
  return out;
}

async function currentBook(
  kafka: ReturnType<typeof createKafka>,
  topic: string,
  version: string,
): Promise<PriceBook> {
  const published = await readPublishedBook(kafka, topic);
  if (!published)
    throw new PermanentError(
      ErrorCodes.NOT_FOUND,
      `no price book is published on ${topic}; publish version ${version} first (meterflow pricebook publish)`,
    );
  const book = parsePriceBook(published.yaml, published.source_name);
  if (book.version !== version)
    throw new PermanentError(
      ErrorCodes.CONFIG_INVALID,
      `price book version ${version} is not the published one (${book.version} is): only the book the price stage rates with can re-rate; publish ${version} first`,
    );
  return book;
}

const CHUNK = 2000;

/**
 * One scope in one transaction: STARTED, the re-rated records, COMPLETED and the checkpoint. The
 * scope's revisions are looked at again first, so a restatement that arrived since the plan was
 * made holds the scope instead of being raced.
 */
async function writeScope(
  es: Client,
  names: IndexNames,
  producer: Producer,
  topics: ReturnType<typeof topicNames>,
  book: PriceBook,
  fromMs: number,
  p: Planned,
  o: RerateOptions,
  pause: boolean,
  say: (line: string) => void,
): Promise<RerateCheckpoint> {
  const now = await revisionsOf(es, names, [p.scope]);
  const decision = decideScope({ ...p.published, accumulates: false }, now.get(p.scope) ?? []);
  const still = await revisionDocument(es, names, p.scope, p.published.revision_id);
  if (decision.kind !== 'rerate' || still?.state !== 'published')
    throw new PermanentError(
      ErrorCodes.UNKNOWN,
      `${p.scope} changed while re-rating (${decision.kind === 'rerate' ? `${p.published.revision_id} is no longer published` : decision.why}); run the re-rate again: committed scopes are skipped`,
    );
  const scope = new ScopeRerate(p.scope, p.revisionId, book, fromMs);
  const control = (type: 'REVISION_STARTED' | 'REVISION_COMPLETED'): Message => ({
    key: p.scope,
    value: AvroTypes.revisionControl.toBuffer(scope.controlRecord(type, p.published)),
  });
  const tx = await producer.transaction();
  try {
    // Control records are keyed by scope (one partition): STARTED precedes the rows, COMPLETED
    // follows them, and its offset makes this revision newer than the one it re-rates.
    await tx.send({ topic: topics.control, messages: [control('REVISION_STARTED')] });
    let rows: Message[] = [];
    for await (const r of revisionRecords(es, names, p.scope, p.published.revision_id)) {
      const out = scope.add(r);
      if (!out) throw new Error(`record ${r.x_RecordId} no longer prices: ${scope.failures[0]?.message}`);
      rows.push({ key: out.x_RecordId, value: AvroTypes.usageRecord.toBuffer(out) });
      if (rows.length >= CHUNK) {
        await sendChunked(tx, [{ topic: topics.rated, messages: rows }]);
        rows = [];
      }
    }
    if (rows.length) await sendChunked(tx, [{ topic: topics.rated, messages: rows }]);
    if (scope.records !== p.records)
      throw new Error(`${p.scope}: ${scope.records} records now, ${p.records} in the dry pass`);
    const cp: RerateCheckpoint = {
      scope: p.scope,
      source_revision: p.published.revision_id,
      revision_id: p.revisionId,
      version: o.version,
      from: o.from,
      records: scope.records,
      rerated: scope.rerated,
      old_totals: scope.oldTotals.toRecord(),
      new_totals: scope.newTotals.toRecord(),
      at: new Date().toISOString(),
    };
    await tx.send({ topic: topics.control, messages: [control('REVISION_COMPLETED')] });
    await tx.send({ topic: topics.rerateCheckpoints, messages: [checkpointMessage(cp)] });
    if (pause) {
      say(`rerate ${o.version}: paused in scope ${p.scope} before its commit (${PAUSE_ENV})`);
      await new Promise<never>(() => undefined);
    }
    await tx.commit();
    return cp;
  } catch (err) {
    await tx.abort().catch(() => undefined);
    throw err;
  }
}
