import { AvroTypes } from '../../../../schemas';
import { Decimal, decimalToString } from '../../../../schemas/decimal';
import { recordIdOf } from '../../../../schemas/record-id';
import { parsePriceBook } from '../../../../processors/price/price-book';
import {
  decideScope,
  effect,
  parseCheckpoint,
  parseFromDate,
  rerateRevisionId,
  rerateVersionOf,
  ScopeRerate,
  totalsEffect,
  checkpointKey,
} from '../../../../processors/rerate';
import { openRunCheckpoints, runEndKey } from '../../../../processors/rerate/checkpoints';
import { usageRecord } from '../../../support/usage-record';

const BOOK = parsePriceBook(`version: v2
rules:
  - { id: compute, match: { ServiceName: AmazonEC2 }, model: cost_plus, basis: BilledCost, markup_percent: 20 }
`);
const SCOPE = 'aws/acct/2026-03';

function rec(line: number, start: string, cost: string, service = 'AmazonEC2') {
  return usageRecord({
    ServiceName: service,
    ChargePeriodStart: start,
    BilledCost: cost,
    EffectiveCost: cost,
    BillingCurrency: 'USD',
    x_RecordId: `old-${line}`,
    x_Scope: SCOPE,
    x_Revision: 'r1',
    x_BillingPeriod: '2026-03',
    x_SourceObject: 's3://b/cur/r1/part-0.csv',
    x_SourceLine: line,
    x_RatedCost: decimalToString(new Decimal(cost).times('1.15')),
    x_RatedCurrency: 'USD',
    x_PriceRuleId: 'compute',
    x_PriceBookVersion: 'v1',
  });
}

describe('re-rate: names and dates', () => {
  it('names the re-rated revision after the published one and the version, and reads the version back', () => {
    expect(rerateRevisionId('r1', 'v2')).toBe('r1+rr-v2');
    expect(rerateVersionOf('r1+rr-v2')).toBe('v2');
    // Re-rated twice: the last version counts.
    expect(rerateVersionOf(rerateRevisionId('r1+rr-v2', '2026-04.1'))).toBe('2026-04.1');
    expect(rerateVersionOf('r1')).toBeUndefined();
  });

  it('accepts only real calendar days', () => {
    expect(parseFromDate('2026-03-15')).toBe(Date.parse('2026-03-15T00:00:00Z'));
    for (const bad of ['2026-02-30', '2026-3-15', '15.03.2026', '2026-03-15T00:00:00Z', ''])
      expect(parseFromDate(bad)).toBeUndefined();
  });
});

describe('re-rate: a scope', () => {
  it('re-prices records on or after the date, carries earlier ones over, and frames the revision exactly', () => {
    const s = new ScopeRerate(SCOPE, 'r1+rr-v2', BOOK, Date.parse('2026-03-15T00:00:00Z'));
    const before = s.add(rec(1, '2026-03-14T23:00:00Z', '10'))!;
    const on = s.add(rec(2, '2026-03-15T00:00:00Z', '0.1'))!;
    const after = s.add(rec(3, '2026-03-20T05:00:00Z', '0.2'))!;
    // Before the date: price and version kept; new revision and record id.
    expect(before).toMatchObject({ x_RatedCost: '11.5', x_PriceBookVersion: 'v1', x_Revision: 'r1+rr-v2' });
    expect(before.x_RecordId).toBe(recordIdOf(SCOPE, 'r1+rr-v2', 's3://b/cur/r1/part-0.csv', 1));
    // On and after: 20% instead of 15%, version v2.
    expect(on).toMatchObject({ x_RatedCost: '0.12', x_PriceBookVersion: 'v2', x_PriceRuleId: 'compute' });
    expect(after).toMatchObject({ x_RatedCost: '0.24', x_PriceBookVersion: 'v2' });
    for (const r of [before, on, after]) expect(AvroTypes.usageRecord.isValid(r)).toBe(true);
    expect([s.records, s.rerated]).toEqual([3, 2]);
    // Only the re-rated records count in the totals: 0.115 + 0.23 -> 0.12 + 0.24.
    expect(totalsEffect(s.oldTotals.toRecord(), s.newTotals.toRecord())).toEqual([
      { currency: 'USD', old: '0.345', new: '0.36', change: '0.015' },
    ]);
    const completed = s.controlRecord('REVISION_COMPLETED', {
      provider: 'aws',
      format: 'cur2-csv',
      billing_period: '2026-03',
      files: ['cur/r1/part-0.csv'],
    });
    expect(completed).toMatchObject({
      type: 'REVISION_COMPLETED',
      scope: SCOPE,
      revision_id: 'r1+rr-v2',
      row_count: 3,
      dead_letter_count: 0,
      // BilledCost of every record of the revision (re-rating never changes it): 10 + 0.1 + 0.2.
      control_totals: [{ currency: 'USD', billed_cost: '10.3', rows: 3 }],
    });
    expect(AvroTypes.revisionControl.isValid(completed)).toBe(true);
    expect(s.controlRecord('REVISION_STARTED', completed)).toMatchObject({
      row_count: null,
      control_totals: [],
    });
  });

  it('reports a record the book cannot price instead of rating it', () => {
    const s = new ScopeRerate(SCOPE, 'r1+rr-v2', BOOK, 0);
    expect(s.add(rec(1, '2026-03-20T00:00:00Z', '1', 'AWSLambda'))).toBeUndefined();
    expect(s.failures).toEqual([
      { record_id: 'old-1', reason: 'unpriced', message: expect.stringContaining('price book "v2"') },
    ]);
  });
});

describe('re-rate: which scopes', () => {
  const published = { revision_id: 'r1', completed_offset: 10, dead_lettered_rows: 0, accumulates: false };
  const rev = (revision_id: string, state: string, completed_offset: number | null, failed = false) =>
    ({ revision_id, state, completed_offset, failed }) as Parameters<typeof decideScope>[1][number];

  it('re-rates a scope whose newest revision is the published one', () => {
    expect(decideScope(published, [rev('r1', 'published', 10), rev('r0', 'superseded', 5)])).toEqual({
      kind: 'rerate',
    });
    // An older unreconciled or failed revision does not hold it.
    expect(
      decideScope(published, [rev('r0', 'unreconciled', 5), rev('r2', 'collecting', null, true)]).kind,
    ).toBe('rerate');
  });

  it('holds a scope with a newer revision on its way, or dead-lettered rows; skips first-party scopes', () => {
    expect(decideScope(published, [rev('r2', 'pending', 12)])).toEqual({
      kind: 'hold',
      why: expect.stringContaining('r2 (pending)'),
    });
    expect(decideScope(published, [rev('r2', 'collecting', null)]).kind).toBe('hold');
    expect(decideScope({ ...published, dead_lettered_rows: 2 }, []).kind).toBe('hold');
    expect(decideScope({ ...published, accumulates: true }, []).kind).toBe('skip');
  });
});

describe('re-rate: checkpoints and the audit effect', () => {
  it('reads back its own checkpoints only', () => {
    const cp = {
      scope: SCOPE,
      source_revision: 'r1',
      revision_id: 'r1+rr-v2',
      version: 'v2',
      from: '2026-03-15',
      records: 3,
      rerated: 2,
      old_totals: { USD: '0.345' },
      new_totals: { USD: '0.36' },
      at: '2026-03-30T00:00:00.000Z',
    };
    const key = checkpointKey(SCOPE, 'r1+rr-v2');
    expect(parseCheckpoint(key, JSON.stringify(cp))).toEqual(cp);
    expect(parseCheckpoint(checkpointKey(SCOPE, 'r9+rr-v2'), JSON.stringify(cp))).toBeUndefined();
    expect(parseCheckpoint(key, 'not json')).toBeUndefined();
    expect(parseCheckpoint(key, undefined)).toBeUndefined();
  });

  it("counts a run's checkpoints until the run's end is recorded", () => {
    const cp = (scope: string, version: string, from: string, offset: bigint) => ({
      scope,
      source_revision: 'r1',
      revision_id: `r1+rr-${version}`,
      version,
      from,
      records: 1,
      rerated: 1,
      old_totals: {},
      new_totals: {},
      at: '2026-03-30T00:00:00.000Z',
      offset,
    });
    const state = {
      checkpoints: new Map([
        ['a', cp('a', 'v2', '2026-03-15', 1n)],
        ['b', cp('b', 'v2', '2026-03-15', 3n)],
        ['c', cp('c', 'v2', '2026-03-01', 4n)],
        ['d', cp('d', 'v3', '2026-03-15', 5n)],
      ]),
      // v2 from 2026-03-15 ended at offset 2: `a` was that run's, `b` belongs to the open one.
      runEnds: new Map([[runEndKey('v2', '2026-03-15'), 2n]]),
    };
    expect(openRunCheckpoints(state, 'v2', '2026-03-15').map((c) => c.scope)).toEqual(['b']);
    expect(openRunCheckpoints(state, 'v2', '2026-03-01').map((c) => c.scope)).toEqual(['c']);
    expect(openRunCheckpoints(state, 'v3', '2026-03-15')[0]).not.toHaveProperty('offset');
  });

  it('states scopes, records and exact totals per currency', () => {
    expect(
      effect({
        version: 'v2',
        from: '2026-03-15',
        rerated: ['b', 'a'],
        resumed: ['c'],
        skipped: [],
        held: [],
        records: 7,
        reratedRecords: 5,
        totals: totalsEffect({ USD: '0.345', EUR: '1' }, { USD: '0.36', EUR: '0.9' }),
      }),
    ).toEqual({
      version: 'v2',
      from: '2026-03-15',
      scopes: 3,
      scopes_resumed: 1,
      scopes_held: 0,
      scope_list: 'a,b,c',
      records: 7,
      rerated_records: 5,
      old_total_EUR: '1',
      new_total_EUR: '0.9',
      change_EUR: '-0.1',
      old_total_USD: '0.345',
      new_total_USD: '0.36',
      change_USD: '0.015',
    });
  });
});
