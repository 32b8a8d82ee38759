import type { Producer } from 'kafkajs';
import { Registry } from 'prom-client';
import { Decimal, decimalToString } from '../../../schemas/decimal';
import { scanAll } from '../../../runtime/elasticsearch';
import { createLogger } from '../../../runtime/logger';
import { Shutdown } from '../../../runtime/shutdown';
import { recordIdOf } from '../../../schemas/record-id';
import { deadLetterMessage } from '../../../processors/core/dead-letter';
import { AvroTypes, type RevisionControl, type UsageRecord } from '../../../schemas';
import { usageRecord } from '../../support/usage-record';

/** A rated record of a revision; cost and customer vary with the line number. */
export function ratedLine(
  scope: string,
  revision: string,
  line: number,
  overrides: Partial<UsageRecord> = {},
) {
  const object = `s3://bucket/${scope}/${revision}/part-1.csv.gz`;
  const billed = `${line % 9}.${String(line).padStart(6, '0')}1`;
  return usageRecord({
    x_Scope: scope,
    x_Revision: revision,
    x_BillingPeriod: '2026-02',
    x_SourceObject: object,
    x_SourceLine: line,
    x_RecordId: recordIdOf(scope, revision, object, line),
    x_CustomerId: ['acme', 'globex', 'initech'][line % 3],
    BilledCost: billed,
    x_RatedCost: decimalToString(new Decimal(billed).times('1.1')),
    x_RatedCurrency: 'USD',
    x_PriceRuleId: 'markup',
    x_PriceBookVersion: 'v1',
    ...overrides,
  });
}

export function controlTotals(rows: UsageRecord[]): RevisionControl['control_totals'] {
  const by = new Map<string, { cost: Decimal; rows: number }>();
  for (const r of rows) {
    const t = by.get(r.BillingCurrency) ?? { cost: new Decimal(0), rows: 0 };
    t.cost = t.cost.plus(r.BilledCost);
    t.rows++;
    by.set(r.BillingCurrency, t);
  }
  return [...by].map(([currency, t]) => ({ currency, billed_cost: decimalToString(t.cost), rows: t.rows }));
}

export function control(
  type: RevisionControl['type'],
  scope: string,
  revision: string,
  rows: UsageRecord[] = [],
  overrides: Partial<RevisionControl> = {},
): RevisionControl {
  return {
    type,
    provider: 'aws',
    format: 'aws-cur2',
    scope,
    revision_id: revision,
    billing_period: '2026-02',
    files: [`s3://bucket/${scope}/${revision}/part-1.csv.gz`],
    expected_rows: null,
    row_count: type === 'REVISION_COMPLETED' ? rows.length : null,
    dead_letter_count: type === 'REVISION_COMPLETED' ? 0 : null,
    control_totals: type === 'REVISION_COMPLETED' ? controlTotals(rows) : [],
    billed_cost_column: 'line_item_unblended_cost',
    error: null,
    produced_at: '2026-03-01T00:00:00Z',
    ...overrides,
  };
}

/**
 * Writes one revision the way the pipeline does: STARTED, the rated rows (minus those a processor
 * dead-lettered, which go to the dead-letter topic instead), then COMPLETED with the collector's
 * totals over ALL rows.
 */
export async function produceRevision(
  producer: Producer,
  topics: { control: string; rated: string; deadLetter: string },
  scope: string,
  revision: string,
  rows: UsageRecord[],
  opts: { deadLettered?: Set<number>; completed?: Partial<RevisionControl> } = {},
): Promise<void> {
  await producer.send({
    topic: topics.control,
    messages: [
      { key: scope, value: AvroTypes.revisionControl.toBuffer(control('REVISION_STARTED', scope, revision)) },
    ],
  });
  const rated = rows.filter((_, i) => !opts.deadLettered?.has(i));
  for (let i = 0; i < rated.length; i += 500)
    await producer.send({
      topic: topics.rated,
      messages: rated
        .slice(i, i + 500)
        .map((r) => ({ key: r.x_RecordId, value: AvroTypes.usageRecord.toBuffer(r) })),
    });
  const dead = rows.filter((_, i) => opts.deadLettered?.has(i));
  if (dead.length)
    await producer.send({
      topic: topics.deadLetter,
      messages: dead.map((r) =>
        deadLetterMessage({
          stage: 'processor.price',
          reason: 'unpriced',
          message: 'no rule matches',
          scope: r.x_Scope,
          revision_id: r.x_Revision,
          record_id: r.x_RecordId,
          payload: AvroTypes.usageRecord.toBuffer(r),
          payload_format: 'avro:UsageRecord',
        }),
      ),
    });
  await producer.send({
    topic: topics.control,
    messages: [
      {
        key: scope,
        value: AvroTypes.revisionControl.toBuffer(
          control('REVISION_COMPLETED', scope, revision, rows, opts.completed),
        ),
      },
    ],
  });
}

/** What startSink needs from a service, without an ops port or signal handlers. */
export function testService() {
  const logger = createLogger({ level: 'warn', component: 'test-sink' });
  return { logger, registry: new Registry(), shutdown: new Shutdown(logger) };
}

/** Exact sum of a field over every document a search matches (one point in time). */
export async function exactSum(
  es: import('@elastic/elasticsearch').Client,
  index: string,
  field: 'x_RatedCost' | 'BilledCost',
  query: Record<string, unknown> = { match_all: {} },
): Promise<{ count: number; sum: string; byCustomer: Record<string, string> }> {
  let count = 0;
  let sum = new Decimal(0);
  const by = new Map<string, Decimal>();
  for await (const hits of scanAll<UsageRecord>(es, index, query, [field, 'x_CustomerId']))
    for (const h of hits) {
      const v = new Decimal(h._source![field] ?? 0);
      sum = sum.plus(v);
      by.set(h._source!.x_CustomerId, (by.get(h._source!.x_CustomerId) ?? new Decimal(0)).plus(v));
      count++;
    }
  return {
    count,
    sum: decimalToString(sum),
    byCustomer: Object.fromEntries([...by].sort().map(([k, v]) => [k, decimalToString(v)])),
  };
}
