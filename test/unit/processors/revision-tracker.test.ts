import { RevisionTracker } from '../../../processors/rated-consumer/revision-tracker';
import type { DeadLetter, RevisionControl, UsageRecord } from '../../../schemas';
import { usageRecord } from '../../support/usage-record';

const completed = (scope: string, revision: string, rows: number): RevisionControl => ({
  type: 'REVISION_COMPLETED',
  provider: 'aws',
  format: 'aws-cur-legacy',
  scope,
  revision_id: revision,
  billing_period: '2026-11',
  files: [],
  expected_rows: null,
  row_count: rows,
  dead_letter_count: 0,
  control_totals: [],
  billed_cost_column: null,
  error: null,
  produced_at: '2026-11-25T00:00:00Z',
});

const rated = (
  scope: string,
  revision: string,
  id: string,
  customer: string,
  cost: string,
  currency = 'USD',
): UsageRecord =>
  usageRecord({
    x_Scope: scope,
    x_Revision: revision,
    x_RecordId: id,
    x_CustomerId: customer,
    x_RatedCost: cost,
    x_RatedCurrency: currency,
    BilledCost: cost,
    BillingCurrency: currency,
  });

const dead = (scope: string, revision: string, id: string, stage = 'processor.price'): DeadLetter =>
  ({ stage, reason: 'unpriced', scope, revision_id: revision, record_id: id }) as DeadLetter;

describe('RevisionTracker (rated-topic consumer contract)', () => {
  it('counts a revision only when it is whole, and a restatement replaces it entirely', () => {
    const t = new RevisionTracker();
    const s = 'aws/b/report/2026-11';
    t.onRated(rated(s, 'r1', 'a', 'acme', '0.1'));
    t.onRated(rated(s, 'r1', 'b', 'acme', '0.2'));
    expect(t.totals()).toEqual([]); // no COMPLETED yet
    t.onControl(completed(s, 'r1', 3));
    expect(t.totals()).toEqual([]); // 2 of 3 rows accounted for
    t.onDeadLetter(dead(s, 'r1', 'c'));
    expect(t.totals()).toEqual([{ customer: 'acme', currency: 'USD', rated: '0.3' }]);

    // Restatement r2 arrives: r1 stays current until r2 is whole, then r2 replaces it (no mix).
    t.onControl(completed(s, 'r2', 2));
    t.onRated(rated(s, 'r2', 'x', 'acme', '5'));
    expect(t.totals()).toEqual([{ customer: 'acme', currency: 'USD', rated: '0.3' }]);
    t.onRated(rated(s, 'r2', 'y', 'globex', '1.25'));
    expect(t.totals()).toEqual([
      { customer: 'acme', currency: 'USD', rated: '5' },
      { customer: 'globex', currency: 'USD', rated: '1.25' },
    ]);
  });

  it('never counts a redelivered record twice', () => {
    const t = new RevisionTracker();
    const s = 'gcp/b/acct/2026-11';
    t.onControl(completed(s, 'run1', 1));
    t.onRated(rated(s, 'run1', 'a', 'acme', '2'));
    t.onRated(rated(s, 'run1', 'a', 'acme', '2'));
    expect(t.totals()).toEqual([{ customer: 'acme', currency: 'USD', rated: '2' }]);
  });

  it('counts a replayed dead letter that was then rated once', () => {
    const t = new RevisionTracker();
    t.onControl(completed('s', 'r1', 2));
    t.onRated(rated('s', 'r1', 'a', 'acme', '1'));
    t.onDeadLetter(dead('s', 'r1', 'b'));
    t.onRated(rated('s', 'r1', 'b', 'acme', '2')); // replayed after a price rule was added
    expect(t.totals()).toEqual([{ customer: 'acme', currency: 'USD', rated: '3' }]);
  });

  it('keeps scopes apart, ignores failed revisions and collector dead letters', () => {
    const t = new RevisionTracker();
    t.onControl(completed('s1', 'r1', 1));
    t.onRated(rated('s1', 'r1', 'a', 'acme', '1'));
    t.onControl({ ...completed('s2', 'r9', 1), type: 'REVISION_FAILED' });
    t.onRated(rated('s2', 'r9', 'z', 'acme', '100'));
    t.onControl(completed('s3', 'r1', 1));
    t.onDeadLetter(dead('s3', 'r1', 'q', 'collector.aws'));
    expect(t.totals()).toEqual([{ customer: 'acme', currency: 'USD', rated: '1' }]);
    expect(t.isWhole('s3', 'r1')).toBe(false);
  });

  it('compaction forgets superseded revisions but keeps the totals', () => {
    const t = new RevisionTracker();
    t.onControl(completed('s', 'r1', 1));
    t.onRated(rated('s', 'r1', 'a', 'acme', '1'));
    t.onControl(completed('s', 'r2', 1));
    t.onRated(rated('s', 'r2', 'b', 'acme', '3'));
    t.compact();
    expect(t.currentRevision('s')).toBe('r2');
    expect(t.totals()).toEqual([{ customer: 'acme', currency: 'USD', rated: '3' }]);
  });
});
