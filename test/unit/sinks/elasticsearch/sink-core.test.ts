import { bulkAction, chunkActions, classifyItem } from '../../../../sinks/elasticsearch/bulk';
import { deadLetterWrite, revisionWrite } from '../../../../sinks/elasticsearch/documents';
import { ContiguousOffsets } from '../../../../sinks/elasticsearch/offsets';
import { chooseCurrent, reconcile } from '../../../../sinks/elasticsearch/publication-rules';
import { recordIdOf } from '../../../../schemas/record-id';
import { AvroTypes, type RevisionControl } from '../../../../schemas';
import { usageRecord } from '../../../support/usage-record';

describe('ContiguousOffsets', () => {
  it('commits only up to the first message still in flight', () => {
    const t = new ContiguousOffsets(['10', '11', '12'], '13');
    t.ack('12');
    t.ack('11');
    expect(t.committable).toBe('10'); // 10 is still in flight: nothing past it may be committed
    expect(t.waiting).toBe(2);
    t.ack('10');
    expect(t.committable).toBe('13');
    expect(t.waiting).toBe(0);
  });

  it('steps over transaction markers, which a read_committed consumer is never given', () => {
    // Two transactions: messages 10-12 and 14-15, their commit markers at 13 and 16.
    const t = new ContiguousOffsets(['10', '11', '12', '14', '15'], '17');
    t.ack('14');
    expect(t.committable).toBe('10');
    for (const o of ['10', '11', '12']) t.ack(o);
    // Not 13 (waiting for a marker would stall the commit there and make kafkajs fetch 14-15 again).
    expect(t.committable).toBe('15');
    t.ack('15');
    expect(t.committable).toBe('17'); // past the last marker: nothing of this fetch is read again
    expect(t.waiting).toBe(0);
  });
});

describe('bulk item classification', () => {
  it('separates acknowledged, retryable and rejected items', () => {
    expect(classifyItem({ status: 201 })).toEqual({ kind: 'ok' });
    expect(classifyItem({ status: 409, error: { type: 'version_conflict_engine_exception' } })).toEqual({
      kind: 'conflict',
    });
    expect(
      classifyItem({ status: 429, error: { type: 'es_rejected_execution_exception', reason: 'queue full' } }),
    ).toMatchObject({
      kind: 'retry',
      status: 429,
    });
    expect(classifyItem({ status: 503, error: { type: 'unavailable_shards_exception' } }).kind).toBe('retry');
    const reject = classifyItem({
      status: 400,
      error: { type: 'document_parsing_exception', reason: 'failed to parse field [BilledCost]' },
    });
    expect(reject).toMatchObject({ kind: 'reject', status: 400, type: 'document_parsing_exception' });
    expect(reject.kind === 'reject' && reject.reason).toMatch(/BilledCost/);
  });

  it('sizes requests by count and by bytes', () => {
    const actions = Array.from({ length: 10 }, (_, i) =>
      bulkAction({ index: { _id: String(i) } }, { v: 'x'.repeat(100) }, i),
    );
    expect(chunkActions(actions, 4, 1e9).map((c) => c.length)).toEqual([4, 4, 2]);
    const perAction = actions[0].bytes;
    expect(chunkActions(actions, 100, perAction * 3).map((c) => c.length)).toEqual([3, 3, 3, 1]);
    // One action larger than the byte budget still goes, alone.
    expect(chunkActions(actions.slice(0, 2), 100, 1).map((c) => c.length)).toEqual([1, 1]);
  });
});

const completed = (overrides: Partial<RevisionControl> = {}): RevisionControl => ({
  type: 'REVISION_COMPLETED',
  provider: 'aws',
  format: 'aws-cur2',
  scope: 'aws/x/2026-02',
  revision_id: 'r1',
  billing_period: '2026-02',
  files: ['s3://b/k'],
  expected_rows: null,
  row_count: 3,
  dead_letter_count: 0,
  control_totals: [{ currency: 'USD', billed_cost: '3.30', rows: 3 }],
  billed_cost_column: null,
  error: null,
  produced_at: '2026-03-01T00:00:00Z',
  ...overrides,
});

describe('revision documents', () => {
  it('never carry the publisher state in the partial update, so a redelivered control record cannot unpublish', () => {
    for (const type of ['REVISION_STARTED', 'REVISION_COMPLETED', 'REVISION_FAILED'] as const) {
      const w = revisionWrite(completed({ type }), '42');
      expect(w.kind).toBe('revision');
      if (w.kind !== 'revision') return;
      expect(w.partial).not.toHaveProperty('state');
      expect(w.upsert.state).toBe('collecting');
    }
    const started = revisionWrite(completed({ type: 'REVISION_STARTED' }), '1');
    expect(started.kind === 'revision' && started.partial).not.toHaveProperty('completed_offset');
    const done = revisionWrite(completed(), '42');
    expect(done.kind === 'revision' && done.partial.completed_offset).toBe(42);
  });

  it('derives the record id of a normalize dead letter from the row place, and reads the billed cost', () => {
    const record = usageRecord({ BilledCost: '1.000000000000000000001', x_CustomerId: 'acme' });
    const fromPrice = deadLetterWrite({
      stage: 'processor.price',
      reason: 'unpriced',
      message: 'm',
      provider: 'aws',
      scope: 's',
      revision_id: 'r',
      object: 'o',
      line: 7,
      field: null,
      record_id: 'rec-9',
      payload: AvroTypes.usageRecord.toBuffer(record),
      payload_format: 'avro:UsageRecord',
      occurred_at: 'now',
    });
    expect(fromPrice.kind === 'dead-letter' && fromPrice.doc).toMatchObject({
      record_id: 'rec-9',
      billed_cost: '1.000000000000000000001',
      billed_currency: 'USD',
      customer: 'acme',
    });
    const fromNormalize = deadLetterWrite({
      stage: 'processor.normalize',
      reason: 'malformed',
      message: 'm',
      provider: 'aws',
      scope: 's',
      revision_id: 'r',
      object: 'o',
      line: 7,
      field: 'x',
      record_id: null,
      payload: AvroTypes.rawUsageRow.toBuffer({
        provider: 'aws',
        format: 'aws-cur2',
        scope: 's',
        revision_id: 'r',
        billing_period: '2026-02',
        object: 'o',
        line: 7,
        columns: { line_item_unblended_cost: '2.50', line_item_currency_code: 'EUR' },
      }),
      payload_format: 'avro:RawUsageRow',
      occurred_at: 'now',
    });
    expect(fromNormalize.kind === 'dead-letter' && fromNormalize.doc).toMatchObject({
      record_id: recordIdOf('s', 'r', 'o', 7),
      billed_cost: '2.5',
      billed_currency: 'EUR',
    });
  });
});

describe('reconcile', () => {
  const revision = { row_count: 3, control_totals: [{ currency: 'USD', billed_cost: '3.30', rows: 3 }] };
  it('waits while rows are missing', () => {
    expect(reconcile(revision, { indexed: 1, deadLettered: 1, totals: [] }).verdict).toBe('pending');
  });
  it('reconciles when every row is accounted for and the money matches to the last digit', () => {
    const found = { indexed: 2, deadLettered: 1, totals: [{ currency: 'USD', billed_cost: '3.3', rows: 3 }] };
    expect(reconcile(revision, found)).toEqual({ verdict: 'reconciled', problems: [] });
  });
  it('reports a one-digit difference, an extra currency and too many rows', () => {
    const found = {
      indexed: 4,
      deadLettered: 0,
      totals: [
        { currency: 'USD', billed_cost: '3.3000000001', rows: 3 },
        { currency: 'EUR', billed_cost: '1', rows: 1 },
      ],
    };
    const { verdict, problems } = reconcile(revision, found);
    expect(verdict).toBe('unreconciled');
    expect(problems).toEqual([
      '4 rows indexed or dead-lettered, but the collector produced 3',
      'EUR: billed cost 1 in Elasticsearch, 0 in the export',
      'EUR: 1 rows in Elasticsearch, 0 in the export',
      'USD: billed cost 3.3000000001 in Elasticsearch, 3.3 in the export',
    ]);
  });
});

describe('chooseCurrent', () => {
  const rev = (
    revision_id: string,
    completed_offset: number | null,
    state: 'published' | 'pending' = 'pending',
  ) => ({
    scope: 's',
    revision_id,
    completed_offset,
    state,
  });
  it('keeps the published revision until a newer one reconciles, whatever order ids sort in', () => {
    const revisions = [rev('b', 1, 'published'), rev('a', 5), rev('c', null)];
    expect(chooseCurrent(revisions, new Set())).toEqual(new Map([['s', 'b']]));
    expect(chooseCurrent(revisions, new Set(['s@a']))).toEqual(new Map([['s', 'a']]));
    // An older reconciled revision never replaces a newer published one.
    expect(chooseCurrent([rev('b', 9, 'published'), rev('a', 5)], new Set(['s@a']))).toEqual(
      new Map([['s', 'b']]),
    );
  });
});
