import { awsChargeCategory, awsKey } from '../../../../providers/aws/to-focus';
import { ok, rawRows, readCsv, run, sumBy, sumText, withColumns } from '../../processors/normalize/helpers';

const legacy = (file: string, billing_period: string) =>
  rawRows(`aws/legacy-cur/${file}`, { provider: 'aws', format: 'aws-cur-legacy', billing_period });

describe('AWS legacy CUR golden fixtures', () => {
  const cases = [
    {
      file: 'koku_test_cur.csv',
      period: '2018-06',
      rows: 19,
      cost: 'lineItem/UnblendedCost',
      svc: 'lineItem/ProductCode',
    },
    {
      file: 'koku_2023-06-01-not-final.csv',
      period: '2023-06',
      rows: 3,
      cost: 'lineItem/UnblendedCost',
      svc: 'lineItem/ProductCode',
    },
    {
      file: 'koku_2022-07-01-athena-style-columns.csv',
      period: '2022-07',
      rows: 2,
      cost: 'line_item_unblended_cost',
      svc: 'line_item_product_code',
    },
  ];

  it.each(cases)(
    '$file: every row normalizes and BilledCost sums exactly to $cost',
    ({ file, period, rows, cost, svc }) => {
      const source = readCsv(`aws/legacy-cur/${file}`);
      const records = legacy(file, period).map((r) => ok(r));
      expect(records).toHaveLength(rows);
      expect(source).toHaveLength(rows);
      expect(sumText(records.map((r) => r.BilledCost))).toBe(sumText(source.map((s) => s.all[cost])));
      expect(
        sumBy(
          records,
          (r) => r.ServiceName ?? '',
          (r) => r.BilledCost,
        ),
      ).toEqual(
        sumBy(
          source,
          (s) => s.all[svc],
          (s) => s.all[cost],
        ),
      );
      for (const r of records) {
        expect(r.ProviderName).toBe('AWS');
        expect(r.x_SourceFormat).toBe('aws-cur-legacy');
      }
    },
  );

  it('koku_test_cur: exact total, timestamps, quantities, service category', () => {
    const records = legacy('koku_test_cur.csv', '2018-06').map((r) => ok(r));
    expect(sumText(records.map((r) => r.BilledCost))).toBe(
      '0.0827499841274349353' /* independently summed with Python decimal */,
    );
    const first = records[0];
    expect(first.ChargePeriodStart).toBe('2018-06-01T00:00:00Z'); // `2018-06-01 00:00:00` (space, no zone)
    expect(first.ChargePeriodEnd).toBe('2018-07-01T00:00:00Z');
    expect(first.BillingPeriodStart).toBe('2018-06-01T00:00:00Z');
    expect(first.BillingPeriodEnd).toBe('2018-07-01T00:00:00Z');
    expect(first.BilledCost).toBe('0.00165303109242778');
    expect(first.ConsumedQuantity).toBe('0.01001837025713806');
    expect(first.PricingUnit).toBe('GB');
    expect(first.ListUnitPrice).toBe('0.165');
    expect(first.ServiceName).toBe('AmazonEC2');
    expect(first.ServiceCategory).toBe('Compute');
    expect(first.ChargeCategory).toBe('Usage');
    expect(first.ChargeFrequency).toBe('Usage-Based');
    expect(first.BillingAccountId).toBe('6838635603105');
    expect(first.SubAccountId).toBe('6838635603105');
    expect(first.BillingCurrency).toBe('USD');
    expect(first.x_SourceLine).toBe(2);
  });

  it('not-final file: SavingsPlanCoveredUsage is Usage, EffectiveCost from SavingsPlanEffectiveCost, cost categories as tags', () => {
    const records = legacy('koku_2023-06-01-not-final.csv', '2023-06').map((r) => ok(r));
    for (const r of records) {
      expect(r.ChargeCategory).toBe('Usage');
      expect(r.BilledCost).toBe('10');
      expect(r.EffectiveCost).toBe('0.1');
      expect(r.BillingCurrency).toBe('NOK');
      expect(r.Tags).toEqual({
        'costCategory:cost_env': 'prod',
        'costCategory:name': 'compute',
        'costCategory:qe_source': 'aws-single',
      });
    }
    expect(records.map((r) => r.ChargePeriodStart)).toEqual([
      '2023-06-01T00:00:00Z',
      '2023-06-01T01:00:00Z',
      '2023-06-01T02:00:00Z',
    ]);
  });

  it('Athena-style file: snake_case aliases, .000 timestamps, resource_tags_* columns, marketplace row', () => {
    const [r] = legacy('koku_2022-07-01-athena-style-columns.csv', '2022-07').map((x) => ok(x));
    expect(r.BillingPeriodStart).toBe('2022-07-01T00:00:00Z'); // `2022-07-01 00:00:00.000`
    expect(r.BillingPeriodEnd).toBe('2022-08-01T00:00:00Z');
    expect(r.ChargePeriodEnd).toBe('2022-07-01T01:00:00Z');
    expect(r.Tags).toEqual({ 'aws:created_by': 'IAMUser:fake:and' });
    expect(r.PublisherName).toBe('Red Hat, Inc.');
    expect(r.InvoiceIssuerName).toBe('AWS'); // AWS issues the invoice (FOCUS: same name as ProviderName)
    expect(r.SkuPriceId).toBe('52KUDV3HNNAWJGTF.4799GE89SK.6YS6EN2CT7');
    expect(r.ResourceType).toBe('instance');
    expect(r.ResourceName).toBe('i-055386473d0b3fc65');
    expect(r.RegionId).toBe('us-east-1');
    expect(r.ServiceCategory).toBe('Other'); // marketplace product code "mra" is not in the lookup
  });
});

describe('AWS line item types -> ChargeCategory / ChargeClass', () => {
  const base = legacy('koku_test_cur.csv', '2018-06')[0];
  const cases: Array<[string, string, string | null]> = [
    ['Usage', 'Usage', null],
    ['DiscountedUsage', 'Usage', null],
    ['SavingsPlanCoveredUsage', 'Usage', null],
    ['SavingsPlanNegation', 'Usage', null],
    ['Tax', 'Tax', null],
    ['Credit', 'Credit', null],
    ['EdpDiscount', 'Credit', null],
    ['BundledDiscount', 'Credit', null],
    ['RIFee', 'Purchase', null],
    ['Fee', 'Purchase', null],
    ['SavingsPlanUpfrontFee', 'Purchase', null],
    ['SavingsPlanRecurringFee', 'Purchase', null],
    ['Refund', 'Credit', 'Correction'],
    ['SomethingNew', 'Adjustment', null],
  ];
  it.each(cases)('%s -> %s / %s', (type, category, chargeClass) => {
    const r = ok(withColumns(base, { 'lineItem/LineItemType': type }));
    expect(r.ChargeCategory).toBe(category);
    expect(r.ChargeClass).toBe(chargeClass);
    expect(r.BilledCost).toBe('0.00165303109242778'); // billed total never changes with the type
  });

  it('a tax refund is Tax + Correction', () => {
    expect(awsChargeCategory('Refund', 'VAT')).toEqual({ category: 'Tax', correction: true });
  });

  it('a credit for a charge period before the billing period is a Correction', () => {
    const r = ok(
      withColumns(base, {
        'lineItem/LineItemType': 'Credit',
        'lineItem/UnblendedCost': '-5.25',
        'lineItem/UsageStartDate': '2018-05-01 00:00:00',
        'lineItem/UsageEndDate': '2018-06-01 00:00:00',
      }),
    );
    expect(r.ChargeCategory).toBe('Credit');
    expect(r.ChargeClass).toBe('Correction');
    expect(r.BilledCost).toBe('-5.25');
    expect(r.ConsumedQuantity).toBeNull(); // quantities belong to usage rows only
  });

  it('RI and Savings Plan rows carry commitment discount fields and amortized EffectiveCost', () => {
    const ri = ok(
      withColumns(base, {
        'lineItem/LineItemType': 'DiscountedUsage',
        'reservation/ReservationARN': 'arn:aws:ec2:us-east-1:123:reserved-instances/abc',
        'reservation/EffectiveCost': '0.042',
      }),
    );
    expect(ri).toMatchObject({
      CommitmentDiscountId: 'arn:aws:ec2:us-east-1:123:reserved-instances/abc',
      CommitmentDiscountType: 'Reserved Instance',
      CommitmentDiscountCategory: 'Usage',
      CommitmentDiscountStatus: 'Used',
      EffectiveCost: '0.042',
    });
    const riFee = ok(
      withColumns(base, {
        'lineItem/LineItemType': 'RIFee',
        'lineItem/UnblendedCost': '100',
        'reservation/ReservationARN': 'arn:aws:ec2:us-east-1:123:reserved-instances/abc',
        'reservation/UnusedAmortizedUpfrontFeeForBillingPeriod': '1.5',
        'reservation/UnusedRecurringFee': '2.25',
      }),
    );
    expect(riFee.ChargeCategory).toBe('Purchase');
    expect(riFee.ChargeFrequency).toBe('Recurring');
    expect(riFee.BilledCost).toBe('100');
    expect(riFee.EffectiveCost).toBe('3.75');
    const spFee = ok(
      withColumns(base, {
        'lineItem/LineItemType': 'SavingsPlanRecurringFee',
        'lineItem/UnblendedCost': '50',
        'savingsPlan/SavingsPlanARN': 'arn:aws:savingsplans::123:savingsplan/sp-1',
        'savingsPlan/TotalCommitmentToDate': '50',
        'savingsPlan/UsedCommitment': '47.5',
      }),
    );
    expect(spFee).toMatchObject({
      ChargeCategory: 'Purchase',
      CommitmentDiscountType: 'Savings Plan',
      CommitmentDiscountCategory: 'Spend',
      EffectiveCost: '2.5',
    });
    const spNeg = ok(
      withColumns(base, { 'lineItem/LineItemType': 'SavingsPlanNegation', 'lineItem/UnblendedCost': '-0.5' }),
    );
    expect(spNeg.EffectiveCost).toBe('0');
    expect(spNeg.BilledCost).toBe('-0.5');
    const upfront = ok(
      withColumns(base, { 'lineItem/LineItemType': 'SavingsPlanUpfrontFee', 'bill/BillType': 'Purchase' }),
    );
    expect(upfront.ChargeFrequency).toBe('One-Time');
  });
});

describe('AWS tags, aliases and CUR 2.0', () => {
  const base = legacy('koku_test_cur.csv', '2018-06')[0];

  it('resourceTags/user:<k> -> <k>, resourceTags/aws:<k> -> aws:<k>', () => {
    const r = ok(
      withColumns(base, {
        'resourceTags/user:customer': 'acme',
        'resourceTags/user:team': 'billing',
        'resourceTags/aws:createdBy': 'root',
      }),
    );
    expect(r.Tags).toEqual({ customer: 'acme', team: 'billing', 'aws:createdBy': 'root' });
  });

  it('header alias normalization matches AWS naming', () => {
    expect(awsKey('lineItem/UnblendedCost')).toBe('line_item_unblended_cost');
    expect(awsKey('reservation/ReservationARN')).toBe('reservation_reservation_a_r_n');
    expect(awsKey('savingsPlan/SavingsPlanEffectiveCost')).toBe('savings_plan_savings_plan_effective_cost');
    expect(awsKey('line_item_usage_account_id')).toBe('line_item_usage_account_id');
  });

  it('CUR 2.0 row (snake_case + JSON maps) maps like its legacy equivalent', () => {
    const columns: Record<string, string> = {};
    for (const [k, v] of Object.entries(base.columns)) columns[awsKey(k)] = v;
    columns['resource_tags'] = '{"user_customer":"acme","aws_created_by":"root"}';
    columns['cost_category'] = '{"team":"core"}';
    columns['line_item_usage_account_name'] = 'prod account';
    columns['product'] = '{"region":"us-east-1","product_name":"Amazon Elastic Compute Cloud"}';
    const cur2 = ok({ ...base, format: 'aws-cur2', columns });
    const leg = ok(base);
    expect(cur2.BilledCost).toBe(leg.BilledCost);
    expect(cur2.ChargePeriodStart).toBe(leg.ChargePeriodStart);
    expect(cur2.ServiceName).toBe('AmazonEC2');
    expect(cur2.SubAccountName).toBe('prod account');
    expect(cur2.RegionId).toBe('us-east-1');
    expect(cur2.Tags).toEqual({ customer: 'acme', 'aws:created_by': 'root', 'costCategory:team': 'core' });
    expect(cur2.x_SourceFormat).toBe('aws-cur2');
  });

  it('BilledCost is UnblendedCost, not BlendedCost or NetUnblendedCost', () => {
    const r = ok(
      withColumns(base, {
        'lineItem/UnblendedCost': '1.10',
        'lineItem/BlendedCost': '2.20',
        'lineItem/NetUnblendedCost': '0.99',
      }),
    );
    expect(r.BilledCost).toBe('1.1');
    expect(r.EffectiveCost).toBe('1.1');
  });

  it('exponent notation in money is exact decimal text', () => {
    const r = ok(withColumns(base, { 'lineItem/UnblendedCost': '1.385e-05' }));
    expect(r.BilledCost).toBe('0.00001385');
  });
});

describe('AWS malformed values name the source column', () => {
  const base = legacy('koku_test_cur.csv', '2018-06')[0];
  const athena = legacy('koku_2022-07-01-athena-style-columns.csv', '2022-07')[0];

  it.each([
    { row: base, column: 'lineItem/UnblendedCost', value: '12,5' },
    { row: base, column: 'lineItem/UsageAmount', value: 'lots' },
    { row: base, column: 'pricing/publicOnDemandCost', value: 'NaN' },
    { row: base, column: 'lineItem/UsageStartDate', value: '2018-13-01 00:00:00' },
    { row: base, column: 'bill/BillingPeriodStartDate', value: 'June 2018' },
    { row: athena, column: 'line_item_unblended_cost', value: '$1' },
  ])('$column = "$value"', ({ row, column, value }) => {
    const r = run(withColumns(row, { [column]: value }));
    expect(r).toMatchObject({ ok: false, reason: 'malformed', field: column });
    if (!r.ok) expect(r.message).toContain(value);
  });

  it('missing billed cost is malformed, naming the column', () => {
    expect(run(withColumns(base, { 'lineItem/UnblendedCost': undefined }))).toMatchObject({
      ok: false,
      reason: 'malformed',
      field: 'lineItem/UnblendedCost',
    });
  });

  it('malformed CUR 2.0 tag map names resource_tags', () => {
    const columns: Record<string, string> = {};
    for (const [k, v] of Object.entries(base.columns)) columns[awsKey(k)] = v;
    columns['resource_tags'] = '{"user_customer":';
    expect(run({ ...base, format: 'aws-cur2', columns })).toMatchObject({
      ok: false,
      reason: 'malformed',
      field: 'resource_tags',
    });
  });
});
