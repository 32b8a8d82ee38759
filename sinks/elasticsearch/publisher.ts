import type { Client } from '@elastic/elasticsearch';
import type { Registry } from 'prom-client';
import { Decimal, decimalToString } from '../../schemas/decimal';
import { scanAll } from '../../runtime/elasticsearch';
import type { Logger } from '../../runtime/logger';
import { gauge, stageCounter } from '../../runtime/metrics';
import { publicationFreshness } from './freshness';
import { pastRetention } from './history';
import { accumulates, usageAliasFilter } from './visibility';
import type { RevisionEvent } from '../../schemas';
import {
  type DeadLetterDocument,
  type IndexNames,
  type PublicationState,
  publishKey,
  type RevisionDocument,
  revisionDocId,
} from './indices';
import { accumulatedWatermarks, chooseCurrent, reconcile, type RevisionCount } from './publication-rules';

export interface PublisherOptions {
  es: Client;
  names: IndexNames;
  logger: Logger;
  registry: Registry;
  intervalMs: number;
  /**
   * Sends lifecycle events (PUBLISHED, SUPERSEDED) to `<prefix>.revision-events`; resolves once
   * the broker has them (acks=all). Absent: no events.
   */
  announce?: (events: RevisionEvent[]) => Promise<void>;
  /**
   * Days the usage documents of a superseded revision are kept after superseded_at (history,
   * docs/history.md). 0: deleted in the pass that supersedes it. Absent: 0.
   */
  historyRetentionDays?: number;
}

const PAGE = 5000;

/**
 * The revision publisher: makes complete, reconciled revisions visible to readers, atomically.
 *
 * Each pass:
 *   1. refresh the usage, dead-letter and revision indices, so counts see everything acknowledged;
 *   2. for each completed revision not yet published, count its usage documents and the dead
 *      letters of its rows (processor or sink stages; a dead letter whose record was later
 *      replayed and indexed counts once), and when they add up to row_count, sum BilledCost per
 *      currency EXACTLY from _source text and compare with the COMPLETED control totals;
 *   3. choose per scope the newest published-or-reconciled revision;
 *   4. if that changed anything, swap the filter of the `P-usage` alias on every monthly index in
 *      ONE _aliases request (applied atomically): readers go from the old set of revisions to the
 *      new one with no moment where a scope shows two revisions or none;
 *   5. only then record the new states (published / superseded) in the revision documents, with
 *      the time readers started (published_at) or stopped (superseded_at) seeing the revision, in
 *      the same partial update as the state, so no revision is ever superseded without its time. A
 *      crash between 4 and 5 is repaired by the next pass, which derives the same choice again (and
 *      writes its own time: "as known at" is then late by the length of the outage, never early);
 *   6. announce what readers can now see on `<prefix>.revision-events` (PUBLISHED for a newly
 *      current revision, SUPERSEDED for a published one it replaced), then mark each revision
 *      document `announced` with the state announced. An event goes out only after the alias and
 *      the states show the change, and a crash before the mark sends it again on the next pass: at
 *      least once, each copy with the same event_id;
 *   7. housekeeping: delete the documents of failed revisions, and of superseded revisions whose
 *      superseded_at is older than historyRetentionDays (history.ts pastRetention), with search +
 *      bulk delete (core APIs; no delete-by-query module needed). They are invisible already (not
 *      in the filter). Deletion reads the states written in step 5, so a superseded revision is
 *      deleted only once its superseded_at is stored: a crash can delay a deletion, never lose the
 *      time that governs it. Until then its documents are history (docs/history.md): queried "as
 *      known at" an earlier time and read to regenerate a finalized invoice that recorded the
 *      revision. Documents redelivered later for a deleted revision are found and deleted by a
 *      later pass.
 */
export class RevisionPublisher {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  private readonly states;
  private readonly published;
  private readonly deleted;
  private lastPublishedKeys: string | undefined;
  private readonly freshness;

  constructor(private readonly o: PublisherOptions) {
    this.states = gauge(o.registry, 'meterflow_revisions', 'Revisions by publication state', ['state']);
    this.freshness = publicationFreshness(o.registry);
    this.published = stageCounter(
      o.registry,
      'meterflow_revisions_published_total',
      'Revisions published',
      [],
    );
    this.deleted = stageCounter(
      o.registry,
      'meterflow_superseded_documents_deleted_total',
      'Usage documents of superseded or failed revisions deleted',
      [],
    );
  }

  start(): void {
    const tick = () => {
      if (this.stopped) return;
      this.running = this.pass()
        .then(() => undefined)
        .catch((err) =>
          this.o.logger.warn({ err: (err as Error).message }, 'publisher pass failed; will retry'),
        )
        .finally(() => {
          if (!this.stopped) this.timer = setTimeout(tick, this.o.intervalMs);
        });
    };
    tick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }

  /** One pass; returns the per-scope current revisions. Exposed for tests and `demo`. */
  async pass(): Promise<Map<string, string>> {
    const { es, names } = this.o;
    const lenient = { ignore_unavailable: true, allow_no_indices: true } as const;
    await es.indices.refresh({ index: [names.usagePattern, names.deadLetters, names.revisions], ...lenient });
    const revisions = await this.allRevisions();

    // 2. reconcile candidates
    const reconciled = new Set<string>();
    const updates = new Map<string, Partial<RevisionDocument>>();
    for (const r of revisions) {
      if (r.completed_offset === null || r.failed) continue;
      if (r.state === 'published' || r.state === 'superseded') continue;
      const key = publishKey(r.scope, r.revision_id);
      const found = await this.count(r);
      const { verdict, problems } = reconcile(r, found);
      const state: PublicationState = verdict === 'reconciled' ? 'pending' : verdict;
      if (verdict === 'reconciled') reconciled.add(key);
      if (verdict === 'unreconciled' && r.state !== 'unreconciled')
        this.o.logger.error(
          { scope: r.scope, revision: r.revision_id, problems },
          'revision does not reconcile with the export control totals; NOT published',
        );
      if (
        r.state !== state ||
        r.indexed_rows !== found.indexed ||
        r.dead_lettered_rows !== found.deadLettered ||
        JSON.stringify(r.problems) !== JSON.stringify(problems)
      )
        updates.set(key, {
          state,
          indexed_rows: found.indexed,
          dead_lettered_rows: found.deadLettered,
          indexed_totals: found.totals,
          problems,
        });
    }

    // 3. choose
    // Accumulating scopes (first-party event seals) are shown up to a watermark, never superseded.
    const current = chooseCurrent(
      revisions.filter((r) => !accumulates(r)),
      reconciled,
    );
    const watermarks = accumulatedWatermarks(revisions, reconciled);
    const keys = [...current].map(([scope, rev]) => publishKey(scope, rev)).sort();
    const filter = usageAliasFilter(keys, watermarks);

    // 4. atomic alias swap (also run when a new monthly index appeared since the last pass)
    const indices = await this.usageIndices();
    const signature = JSON.stringify([filter, indices]);
    if (signature !== this.lastPublishedKeys && indices.length > 0) {
      await es.indices.updateAliases({
        actions: indices.map((index) => ({
          add: { index, alias: names.usageAlias, filter },
        })),
      });
      this.lastPublishedKeys = signature;
    }

    // 5. record states
    const now = new Date().toISOString();
    for (const r of revisions) {
      const key = publishKey(r.scope, r.revision_id);
      if (accumulates(r)) {
        const w = watermarks.get(r.scope);
        if (w !== undefined && r.revision_id <= w && r.state !== 'published' && !r.failed) {
          updates.set(key, { ...updates.get(key), state: 'published', published_at: now });
          this.published.inc();
        }
        continue;
      }
      const isCurrent = current.get(r.scope) === r.revision_id;
      const currentOffset = revisions.find(
        (x) => x.scope === r.scope && x.revision_id === current.get(r.scope),
      )?.completed_offset;
      let state: PublicationState | undefined;
      if (isCurrent && r.state !== 'published') state = 'published';
      else if (!isCurrent && r.failed && r.state !== 'failed') state = 'failed';
      else if (
        !isCurrent &&
        !r.failed &&
        r.state !== 'superseded' &&
        currentOffset !== undefined &&
        currentOffset !== null &&
        (r.state === 'published' || (r.completed_offset !== null && r.completed_offset < currentOffset))
      )
        state = 'superseded';
      if (!state) continue;
      updates.set(key, {
        ...updates.get(key),
        state,
        ...(state === 'published' ? { published_at: now } : {}),
        // Same `now` as the replacing revision's published_at: a knowledge time sees exactly one of them.
        ...(state === 'superseded' ? { superseded_at: now } : {}),
      });
      if (state === 'published') {
        this.published.inc();
        this.o.logger.info({ scope: r.scope, revision: r.revision_id }, 'revision published');
      }
    }
    if (updates.size) {
      const operations: unknown[] = [];
      for (const [key, doc] of updates) {
        const [scope, revision] = splitKey(key, revisions);
        operations.push(
          { update: { _index: names.revisions, _id: revisionDocId(scope, revision) } },
          { doc: { ...doc, updated_at: now } },
        );
      }
      const res = await es.bulk({ operations, refresh: 'wait_for' });
      if (res.errors) throw new Error('updating revision states failed; next pass repairs it');
    }

    const byState = new Map<string, number>();
    for (const r of revisions) {
      const state = updates.get(publishKey(r.scope, r.revision_id))?.state ?? r.state;
      byState.set(state, (byState.get(state) ?? 0) + 1);
    }
    for (const s of ['collecting', 'pending', 'published', 'superseded', 'unreconciled', 'failed'])
      this.states.set({ state: s }, byState.get(s) ?? 0);
    this.freshness(revisions.map((r) => ({ ...r, ...updates.get(publishKey(r.scope, r.revision_id)) })));

    // 6. announce
    if (this.o.announce) await this.announce(revisions, updates, current, now);

    // 7. housekeeping. Failed revisions go at once (never published: no reader saw them, no invoice
    // records them); superseded ones are history until their retention has passed.
    const nowMs = Date.parse(now);
    const retention = this.o.historyRetentionDays ?? 0;
    const dead = revisions
      .filter((r) =>
        pastRetention({ ...r, ...updates.get(publishKey(r.scope, r.revision_id)) }, nowMs, retention),
      )
      .map((r) => publishKey(r.scope, r.revision_id));
    if (dead.length) await this.deleteDocuments(dead);
    return current;
  }

  /**
   * Events for the revisions whose state readers see changed since the last announcement: a
   * published revision not yet announced, and a superseded one that was announced as published.
   */
  private async announce(
    revisions: RevisionDocument[],
    updates: Map<string, Partial<RevisionDocument>>,
    current: Map<string, string>,
    now: string,
  ): Promise<void> {
    const events: RevisionEvent[] = [];
    const announced: RevisionDocument[] = [];
    const stateOf = (r: RevisionDocument) =>
      updates.get(publishKey(r.scope, r.revision_id))?.state ?? r.state;
    // The revision each scope last announced as published: what a newly published one replaces.
    const previous = new Map<string, string>();
    for (const r of revisions)
      if (r.announced === 'PUBLISHED' && current.get(r.scope) !== r.revision_id && !accumulates(r))
        previous.set(r.scope, r.revision_id);
    const eventOf = (
      r: RevisionDocument,
      type: RevisionEvent['type'],
      related: string | null,
    ): RevisionEvent => ({
      event_id: `${r.scope}/${r.revision_id}/${type}`,
      type,
      provider: r.provider,
      scope: r.scope,
      revision_id: r.revision_id,
      billing_period: r.billing_period,
      row_count: r.row_count,
      totals: (updates.get(publishKey(r.scope, r.revision_id))?.indexed_totals ?? r.indexed_totals).map(
        (t) => ({
          currency: t.currency,
          billed_cost: t.billed_cost,
          rows: t.rows,
        }),
      ),
      related_revision_id: related,
      at: now,
    });
    // Per scope, the new revision's PUBLISHED before the old one's SUPERSEDED (one key, one partition).
    for (const r of revisions)
      if (stateOf(r) === 'published' && (r.announced ?? null) === null) {
        events.push(eventOf(r, 'PUBLISHED', previous.get(r.scope) ?? null));
        announced.push({ ...r, announced: 'PUBLISHED' });
      }
    for (const r of revisions)
      if (stateOf(r) === 'superseded' && r.announced === 'PUBLISHED') {
        events.push(eventOf(r, 'SUPERSEDED', current.get(r.scope) ?? null));
        announced.push({ ...r, announced: 'SUPERSEDED' });
      }
    if (events.length === 0) return;
    await this.o.announce!(events);
    const operations = announced.flatMap((r) => [
      { update: { _index: this.o.names.revisions, _id: revisionDocId(r.scope, r.revision_id) } },
      { doc: { announced: r.announced } },
    ]);
    const res = await this.o.es.bulk({ operations, refresh: 'wait_for' });
    if (res.errors) throw new Error('marking revisions announced failed; the next pass announces them again');
    this.o.logger.info({ events: events.map((e) => e.event_id) }, 'revision events announced');
  }

  private async allRevisions(): Promise<RevisionDocument[]> {
    const out: RevisionDocument[] = [];
    for await (const hits of scanAll<RevisionDocument>(
      this.o.es,
      this.o.names.revisions,
      { match_all: {} },
      [],
    ))
      for (const h of hits) out.push(h._source!);
    return out;
  }

  private async usageIndices(): Promise<string[]> {
    const res = await this.o.es.indices.get({
      index: this.o.names.usagePattern,
      ignore_unavailable: true,
      allow_no_indices: true,
    });
    return Object.keys(res).sort();
  }

  /** Counts and exact totals of one revision, from usage documents plus its rows' dead letters. */
  private async count(r: RevisionDocument): Promise<RevisionCount> {
    const { es, names } = this.o;
    const key = publishKey(r.scope, r.revision_id);
    const totals = new Map<string, { cost: Decimal; rows: number }>();
    const add = (currency: string | null, cost: string | null) => {
      const c = currency ?? '(none)';
      const t = totals.get(c) ?? { cost: new Decimal(0), rows: 0 };
      t.cost = t.cost.plus(new Decimal(cost ?? 0));
      t.rows++;
      totals.set(c, t);
    };
    // Cheap first: if the documents plus dead letters cannot reach row_count, skip the exact sum.
    const indexedCount = (
      await es.count({
        index: names.usagePattern,
        ignore_unavailable: true,
        allow_no_indices: true,
        query: { term: { x_PublishKey: key } },
      })
    ).count;
    const deadLetters = await this.revisionDeadLetters(r);
    const deadIds = [...deadLetters.keys()];
    let alsoIndexed = 0;
    for (let i = 0; i < deadIds.length; i += 1000) {
      alsoIndexed += (
        await es.count({
          index: names.usagePattern,
          ignore_unavailable: true,
          allow_no_indices: true,
          query: {
            bool: {
              filter: [{ ids: { values: deadIds.slice(i, i + 1000) } }, { term: { x_PublishKey: key } }],
            },
          },
        })
      ).count;
    }
    const deadOnly = deadIds.length - alsoIndexed;
    const unchanged =
      r.state === 'unreconciled' && r.indexed_rows === indexedCount && r.dead_lettered_rows === deadOnly;
    if (unchanged || indexedCount + deadOnly < (r.row_count ?? 0))
      return { indexed: indexedCount, deadLettered: deadOnly, totals: r.indexed_totals ?? [] };

    const indexedIds = new Set<string>();
    type Money = { BilledCost: string; BillingCurrency: string; x_RecordId: string };
    const fields = ['BilledCost', 'BillingCurrency', 'x_RecordId'];
    for await (const hits of scanAll<Money>(es, names.usagePattern, { term: { x_PublishKey: key } }, fields))
      for (const h of hits) {
        add(h._source!.BillingCurrency, h._source!.BilledCost);
        if (deadLetters.has(h._source!.x_RecordId)) indexedIds.add(h._source!.x_RecordId);
      }
    for (const [id, d] of deadLetters) if (!indexedIds.has(id)) add(d.billed_currency, d.billed_cost);
    return {
      indexed: indexedCount,
      deadLettered: deadOnly,
      totals: [...totals]
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([currency, t]) => ({ currency, billed_cost: decimalToString(t.cost), rows: t.rows })),
    };
  }

  /** Dead letters of the revision's rows (not the collector's: those never became rows), by record. */
  private async revisionDeadLetters(r: RevisionDocument): Promise<Map<string, DeadLetterDocument>> {
    const { es, names } = this.o;
    const out = new Map<string, DeadLetterDocument>();
    const query = {
      bool: {
        filter: [{ term: { scope: r.scope } }, { term: { revision_id: r.revision_id } }],
        must_not: [{ prefix: { stage: 'collector' } }],
      },
    };
    for await (const hits of scanAll<DeadLetterDocument>(es, names.deadLetters, query, true))
      for (const h of hits) {
        const d = h._source!;
        // One row can be dead-lettered more than once (a replay that failed again): it is one row.
        const id = d.record_id ?? `${d.object}#${d.line}`;
        if (!out.has(id)) out.set(id, d);
      }
    return out;
  }

  private async deleteDocuments(keys: string[]): Promise<void> {
    const { es, names } = this.o;
    for (let i = 0; i < keys.length; i += 1000) {
      const slice = keys.slice(i, i + 1000);
      for (;;) {
        const res = await es.search({
          index: names.usagePattern,
          ignore_unavailable: true,
          allow_no_indices: true,
          size: PAGE,
          _source: false,
          query: { terms: { x_PublishKey: slice } },
        });
        if (res.hits.hits.length === 0) break;
        const operations = res.hits.hits.map((h) => ({ delete: { _index: h._index, _id: h._id } }));
        await es.bulk({ operations, refresh: true });
        this.deleted.inc(operations.length);
        if (res.hits.hits.length < PAGE) break;
      }
    }
  }
}

function splitKey(key: string, revisions: RevisionDocument[]): [string, string] {
  const r = revisions.find((x) => publishKey(x.scope, x.revision_id) === key)!;
  return [r.scope, r.revision_id];
}
