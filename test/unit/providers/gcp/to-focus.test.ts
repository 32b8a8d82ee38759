import { gcpChargeCategory } from '../../../../providers/gcp/to-focus';
import { Decimal, decimalToString } from '../../../../schemas/decimal';
import {
  dec,
  ok,
  rawRows,
  readCsv,
  run,
  sumBy,
  sumText,
  withColumns,
} from '../../processors/normalize/helpers';

const rows = (file: string, billing_period: string) =>
  rawRows(`gcp/bigquery-flattened/${file}`, { provider: 'gcp', format: 'gcp-detailed', billing_period });

/** Provider billed cost of a source row: cost + sum(credits[].amount), from the raw text. */
function providerNet(all: Record<string, string>): string {
  const credits = (all['credits'] ?? '[]').match(/'amount':\s*(-?[\d.e+-]+)/g) ?? [];
  return decimalToString(credits.reduce((acc, c) => acc.plus(dec(c.split(':')[1].trim())), dec(all['cost'])));
}

describe('GCP BigQuery flattened golden fixtures', () => {
  it.each([
    { file: 'koku_2022-08-01_5.csv', period: '2022-08', n: 9 },
    { file: 'koku_2024-03-01_5.csv', period: '2024-03', n: 6 },
  ])('$file: $n rows, BilledCost == cost + credits overall and per service', ({ file, period, n }) => {
    const source = readCsv(`gcp/bigquery-flattened/${file}`);
    const records = rows(file, period).map((r) => ok(r));
    expect(records).toHaveLength(n);
    expect(sumText(records.map((r) => r.BilledCost))).toBe(sumText(source.map((s) => providerNet(s.all))));
    expect(
      sumBy(
        records,
        (r) => r.ServiceName ?? '',
        (r) => r.BilledCost,
      ),
    ).toEqual(
      sumBy(
        source,
        (s) => s.all['service.description'],
        (s) => providerNet(s.all),
      ),
    );
    for (const r of records) {
      expect(r.ProviderName).toBe('Google Cloud');
      expect(r.ServiceCategory).toBe('Compute');
      expect(r.ChargeCategory).toBe('Usage');
      expect(r.SubAccountId).toBe('cloud-billing-292519');
      expect(r.BillingAccountId).toBe('018984-D0AAA4-940B88');
    }
  });

  it('timestamps (+00:00), exponent quantities, detailed resource fields', () => {
    const [r] = rows('koku_2022-08-01_5.csv', '2022-08').map((x) => ok(x));
    expect(r).toMatchObject({
      ChargePeriodStart: '2022-08-01T03:00:00Z',
      ChargePeriodEnd: '2022-08-01T04:00:00Z',
      ConsumedQuantity: '14871',
      ConsumedUnit: 'bytes',
      PricingQuantity: '0.00001385', // 1.385e-05
      PricingUnit: 'gibibyte',
      ResourceName: 'instance-1',
      ResourceId: '//example',
      RegionId: 'us-central1',
      BilledCost: '0',
      SkuId: '6B8F-E63D-832B',
      ChargeDescription: 'Network Internet Egress from Americas to APAC',
    });
  });

  it('invoice.month is a US/Pacific month (PDT in August, PST in February), independent of usage month', () => {
    const aug = ok(rows('koku_2022-08-01_5.csv', '2022-08')[0]);
    expect(aug.BillingPeriodStart).toBe('2022-08-01T07:00:00Z');
    expect(aug.BillingPeriodEnd).toBe('2022-09-01T07:00:00Z');
    const mixed = rows('koku_2024-03-01_5.csv', '2024-03').map((x) => ok(x));
    expect(mixed.map((r) => r.BillingPeriodStart)).toEqual([
      '2024-02-01T08:00:00Z',
      '2024-02-01T08:00:00Z',
      '2024-02-01T08:00:00Z',
      '2024-03-01T08:00:00Z',
      '2024-03-01T08:00:00Z',
      '2024-03-01T08:00:00Z',
    ]);
    expect(mixed[3].BillingPeriodEnd).toBe('2024-04-01T07:00:00Z'); // DST starts in March
  });
});

describe('GCP credits, labels, cost types', () => {
  const base = rows('koku_2022-08-01_5.csv', '2022-08')[0];

  it('BilledCost = cost + credits exactly (Python-repr credits, no float rounding)', () => {
    const r = ok(
      withColumns(base, {
        cost: '1.5',
        credits:
          "[{'name': 'Sustained usage discount', 'amount': -0.123456789012345678, 'full_name': None, 'id': 'sud', 'type': 'SUSTAINED_USAGE_DISCOUNT'}, {'name': \"Commitment v1: it's\", 'amount': -1e-18, 'id': 'cud-1', 'type': 'COMMITTED_USAGE_DISCOUNT'}]",
      }),
    );
    expect(r.BilledCost).toBe('1.376543210987654321');
    expect(r.EffectiveCost).toBe('1.376543210987654321');
    expect(r).toMatchObject({
      CommitmentDiscountId: 'cud-1',
      CommitmentDiscountType: 'Committed Use Discount',
      CommitmentDiscountCategory: 'Usage',
      CommitmentDiscountStatus: 'Used',
    });
    expect(
      new Decimal(r.BilledCost).equals(new Decimal('1.5').minus('0.123456789012345678').minus('1e-18')),
    ).toBe(true);
  });

  it('JSON credits and labels; resource labels win over project labels', () => {
    const r = ok(
      withColumns(base, {
        cost: '10',
        credits:
          '[{"name":"Free tier","amount":-2.5,"type":"FREE_TIER"},{"name":"Promo","amount":"-0.25","type":"PROMOTION"}]',
        labels: '[{"key": "customer", "value": "acme"}, {"key": "env", "value": "prod"}]',
        'project.labels':
          "[{'key': 'customer', 'value': 'project-level'}, {'key': 'cost_center', 'value': 'cc1'}]",
      }),
    );
    expect(r.BilledCost).toBe('7.25');
    expect(r.CommitmentDiscountId).toBeNull();
    expect(r.Tags).toEqual({ customer: 'acme', env: 'prod', cost_center: 'cc1' });
  });

  it('` UTC` timestamps of EXPORT DATA are accepted', () => {
    const r = ok(
      withColumns(base, {
        usage_start_time: '2020-11-10 05:49:32.199 UTC',
        usage_end_time: '2020-11-10 06:00:00 UTC',
      }),
    );
    expect(r.ChargePeriodStart).toBe('2020-11-10T05:49:32.199Z');
    expect(r.ChargePeriodEnd).toBe('2020-11-10T06:00:00Z');
  });

  it.each([
    ['regular', 'Usage', null],
    ['tax', 'Tax', null],
    ['rounding_error', 'Adjustment', null],
    ['adjustment', 'Adjustment', null],
  ])('cost_type %s -> %s', (costType, category, chargeClass) => {
    const r = ok(withColumns(base, { cost_type: costType, cost: '-0.01' }));
    expect(r.ChargeCategory).toBe(category);
    expect(r.ChargeClass).toBe(chargeClass);
    expect(r.BilledCost).toBe('-0.01');
  });

  it('adjustments that correct usage are Correction', () => {
    expect(gcpChargeCategory('adjustment', 'PARTIAL_CORRECTION', 'USAGE_CORRECTION')).toEqual({
      category: 'Adjustment',
      correction: true,
    });
    const r = ok(withColumns(base, { cost_type: 'adjustment', 'adjustment_info.mode': 'COMPLETE_NEGATION' }));
    expect(r.ChargeClass).toBe('Correction');
  });

  it.each([
    { column: 'cost', value: '0,0' },
    { column: 'credits', value: "[{'name': 'x', 'amount': 'abc'}]" },
    { column: 'credits', value: '[{"name": "x"' },
    { column: 'usage_start_time', value: '2022-08-01 25:00:00+00:00' },
    { column: 'invoice.month', value: '202213' },
    { column: 'labels', value: '{"not": "an array"}' },
    { column: 'usage.amount_in_pricing_units', value: '1.385e' },
  ])('malformed $column = "$value" names the column', ({ column, value }) => {
    expect(run(withColumns(base, { [column]: value }))).toMatchObject({
      ok: false,
      reason: 'malformed',
      field: column,
    });
  });
});
