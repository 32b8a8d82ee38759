import type { KafkaMessage } from 'kafkajs';
import { Registry } from 'prom-client';
import { parsePriceBook, rateRecord } from '../../../../processors/price';
import { priceProcessor } from '../../../../processors/price/stage';
import { createStageMetrics } from '../../../../runtime/metrics';
import { AvroTypes, type DeadLetter, type UsageRecord } from '../../../../schemas';
import { usageRecordBatchMessage } from '../../../../schemas/usage-record-batch';
import { usageRecord } from '../../../support/usage-record';
import { prng } from '../../../support/random';

// The price stage writes a rated record from the deduped record's own bytes plus its five rated
// fields (processors/price/rated-bytes.ts). These tests hold it to the plain way: decode the record,
// rate it with rateRecord, encode the result with avsc. Byte for byte, dead letters included.

const book = parsePriceBook(
  [
    'version: v7',
    'rules:',
    '  - { id: ec2-eu, model: cost_plus, basis: EffectiveCost, markup_percent: 12.5, match: { ServiceName: [AmazonEC2], RegionId: [eu-west-1] } }',
    '  - { id: team-a, model: per_unit, unit_price: 0.25, currency: USD, match: { PricingUnit: [Hrs], Tags: { team: [a] } } }',
    '  - { id: flat, model: fixed_per_line, amount: 1.10, currency: EUR, match: { ChargeCategory: [Tax] } }',
    '  - { id: rest, model: cost_plus, basis: BilledCost, markup_percent: 0, match: { ProviderName: [AWS, Microsoft] } }',
    'customers:',
    '  initech: { discount_percent: 10 }',
    '  globex: { billing_currency: EUR }',
    'exchange_rates:',
    '  - { from: USD, to: EUR, rate: 0.5, effective_from: 2026-01-01 }',
  ].join('\n'),
  'test.yaml',
);

function lines(n: number, seed: number): UsageRecord[] {
  const rand = prng(seed);
  const pick = <T>(xs: T[]) => xs[Math.floor(rand() * xs.length)];
  return Array.from({ length: n }, (_, i) =>
    usageRecord({
      x_RecordId: `id-${seed}-${i}`,
      x_SourceLine: i + 2,
      ProviderName: pick(['AWS', 'Microsoft', 'Google Cloud']),
      ServiceName: pick(['AmazonEC2', 'AmazonS3', 'Ünïcode sérvice ✓']),
      RegionId: pick(['eu-west-1', 'us-east-1']),
      ChargeCategory: pick(['Usage', 'Usage', 'Tax']),
      BilledCost: pick(['0', '-3.5', '12.000001', '1e-7', `${i}.${i}`]),
      EffectiveCost: pick(['0', '7.25', '-0.01']),
      PricingQuantity: pick([null, '3', '0.5']),
      BillingCurrency: pick(['USD', 'USD', 'usd']),
      x_CustomerId: pick(['acme', 'initech', 'globex']),
      ChargePeriodStart: pick(['2026-02-10T00:00:00Z', 'not a date', '2026-02-10T05:00:00Z']),
      Tags: pick<Record<string, string>>([{}, { team: 'a' }, { team: 'b', 'cost center': 'ü-42' }]),
      ResourceName: rand() < 0.5 ? null : `res-${'x'.repeat(Math.floor(rand() * 300))}`,
    }),
  );
}

const delivered = (value: Buffer, headers: KafkaMessage['headers']): KafkaMessage =>
  ({ key: Buffer.from('k'), value, headers, offset: '0', timestamp: '0', attributes: 0 }) as KafkaMessage;

async function price(message: KafkaMessage) {
  const process = priceProcessor(
    { current: book },
    { rated: 'rated', deadLetter: 'dead' },
    createStageMetrics(new Registry(), 'processor.price'),
  );
  const [rated, dead] = await process([message], 'deduped', 0);
  return {
    rated: rated.messages.map((m) => [String(m.key), (m.value as Buffer).toString('hex')]),
    dead: dead.messages.map((m) => AvroTypes.deadLetter.fromBuffer(m.value as Buffer) as DeadLetter),
  };
}

/** What the stage wrote before: decode, rateRecord, encode each record. */
function plain(records: UsageRecord[]) {
  const rated: string[][] = [];
  const dead: Array<Partial<DeadLetter>> = [];
  for (const r of records) {
    const result = rateRecord(r, book);
    if (result.ok) rated.push([r.x_RecordId, AvroTypes.usageRecord.toBuffer(result.record).toString('hex')]);
    else
      dead.push({
        reason: result.reason,
        field: result.field ?? null,
        record_id: r.x_RecordId,
        line: r.x_SourceLine,
        scope: r.x_Scope,
        provider: r.ProviderName,
        payload: AvroTypes.usageRecord.toBuffer(r),
      });
  }
  return { rated, dead };
}

describe('rated records written from the deduped bytes', () => {
  it('are byte for byte what decoding, rating and encoding give, dead letters included', async () => {
    for (const seed of [1, 2, 3]) {
      const records = lines(300, seed);
      const batch = usageRecordBatchMessage('k', records);
      const got = await price(delivered(batch.value as Buffer, batch.headers));
      const want = plain(records);
      expect(got.rated).toEqual(want.rated);
      expect(want.rated.length).toBeGreaterThan(50);
      const rules = new Set(
        records.map((r) => rateRecord(r, book)).map((x) => x.ok && x.record.x_PriceRuleId),
      );
      expect(rules).toEqual(new Set(['ec2-eu', 'team-a', 'flat', 'rest', false]));
      expect(want.dead.length).toBeGreaterThan(50); // unpriced, malformed dates and currencies
      expect(got.dead).toHaveLength(want.dead.length);
      got.dead.forEach((d, i) => {
        expect(d).toMatchObject({ ...want.dead[i], payload: expect.anything() });
        expect(Buffer.from(d.payload).equals(want.dead[i].payload as Buffer)).toBe(true);
        expect(d.message).toContain('(price book v7)');
      });
    }
  });

  it('rates a record that already carries rated fields whole, as before', async () => {
    const [fresh, again] = lines(2, 9).map((r) => ({ ...r, ChargePeriodStart: '2026-02-10T00:00:00Z' }));
    const stale = { ...again, x_RatedCost: '999', x_RatedCurrency: 'USD', x_PriceRuleId: 'old' };
    const batch = usageRecordBatchMessage('k', [fresh, stale]);
    const got = await price(delivered(batch.value as Buffer, batch.headers));
    expect(got.rated.map(([k]) => k).sort()).toEqual(
      plain([fresh, stale])
        .rated.map(([k]) => k)
        .sort(),
    );
    expect(new Set(got.rated.map(([, v]) => v))).toEqual(
      new Set(plain([fresh, stale]).rated.map(([, v]) => v)),
    );
  });

  it('rates single-record messages and earlier forms as before', async () => {
    const [r] = lines(1, 4).map((x) => ({ ...x, ChargePeriodStart: '2026-02-10T00:00:00Z' }));
    const got = await price(delivered(AvroTypes.usageRecord.toBuffer(r), {}));
    expect(got.rated).toEqual(plain([r]).rated);
  });
});
