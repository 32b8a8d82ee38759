import fs from 'node:fs';
import path from 'node:path';
import type { RawUsageRow } from '../../../../schemas/types.generated';
import { FIXTURES } from '../../../support/fixtures';
import { ok, rawRows, readCsv, run, sumBy, sumText, withColumns } from '../../processors/normalize/helpers';

const EXAMPLES = path.join(FIXTURES, 'focus', 'spec-v1.2-examples');
const walk = (d: string): string[] =>
  fs
    .readdirSync(d, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? walk(path.join(d, e.name)) : [path.join(d, e.name)]))
    .filter((f) => f.endsWith('.csv'))
    .sort();
const files = walk(EXAMPLES).map((f) => path.relative(FIXTURES, f));

/** Spreadsheet money of the spec examples ("$10,000.00 ", "null") as plain decimal text. */
const clean = (v: string | undefined) =>
  v === undefined || v.trim().toLowerCase() === 'null' ? '0' : v.replace(/[$,\s]/g, '');
const LENIENT = { lenient_focus: true, default_currency: 'USD' };
const meta = { provider: 'aws', format: 'focus', billing_period: '2023-01' };

describe('FOCUS 1.2 spec examples (lenient pre-clean)', () => {
  it('covers all 26 example files', () => {
    expect(files).toHaveLength(26);
  });

  it.each(files)('%s: BilledCost sums exactly, overall and per ServiceName', (file) => {
    const source = readCsv(file);
    const results = rawRows(file, meta).map((r) => run(r, LENIENT));
    expect(results).toHaveLength(source.length);
    // The only broken rows of the examples carry an impossible hour (T30:00:00Z).
    const bad = source.filter((s) => /T30:/.test(s.all['ChargePeriodEnd'] ?? ''));
    const failures = results.filter((r) => !r.ok);
    expect(failures).toHaveLength(bad.length);
    for (const f of failures) expect(f).toMatchObject({ reason: 'malformed', field: 'ChargePeriodEnd' });
    const good = source.filter((s) => !bad.includes(s));
    const records = results.flatMap((r) => (r.ok ? [r.record] : []));
    expect(sumText(records.map((r) => r.BilledCost))).toBe(
      sumText(good.map((s) => clean(s.all['BilledCost']))),
    );
    expect(sumText(records.map((r) => r.EffectiveCost))).toBe(
      sumText(good.map((s) => clean(s.all['EffectiveCost']))),
    );
    expect(
      sumBy(
        records,
        (r) => r.ServiceName ?? '',
        (r) => r.BilledCost,
      ),
    ).toEqual(
      sumBy(
        good,
        (s) => s.all['ServiceName'] ?? '',
        (s) => clean(s.all['BilledCost']),
      ),
    );
  });

  it('commitment purchase: BilledCost paid up front, EffectiveCost 0; covered usage the reverse', () => {
    const [purchase] = rawRows(
      'focus/spec-v1.2-examples/commitment_discount_scenarios/commitment_discount_purchase_scenario_1.csv',
      meta,
    ).map((r) => ok(r, LENIENT));
    expect(purchase).toMatchObject({
      ChargeCategory: 'Purchase',
      ChargeFrequency: 'One-Time',
      BilledCost: '8760',
      EffectiveCost: '0',
      ChargePeriodStart: '2023-01-01T00:00:00Z',
      ChargePeriodEnd: '2024-01-01T00:00:00Z',
      CommitmentDiscountId: '<my-commitment-discount-id>',
    });
    const [used, unused] = rawRows(
      'focus/spec-v1.2-examples/commitment_discount_scenarios/commitment_discount_usage_scenario_3.csv',
      meta,
    ).map((r) => ok(r, LENIENT));
    expect(used).toMatchObject({ BilledCost: '0', EffectiveCost: '0.75', CommitmentDiscountStatus: 'Used' });
    expect(unused).toMatchObject({ BilledCost: '0', EffectiveCost: '0.25', ConsumedQuantity: null });
  });

  it('SaaS example: M/d/yy dates, spreadsheet money, declared ServiceCategory kept', () => {
    const [r] = rawRows(
      'focus/spec-v1.2-examples/saas_examples/simple_agreements/simple_saas_agreements_a2.csv',
      meta,
    ).map((x) => ok(x, LENIENT));
    expect(r).toMatchObject({
      BilledCost: '50000',
      ListUnitPrice: '100',
      PricingQuantity: '500',
      BillingPeriodStart: '2025-04-01T00:00:00Z',
      BillingPeriodEnd: '2025-05-01T00:00:00Z',
      ChargePeriodEnd: '2026-04-01T00:00:00Z',
      ServiceCategory: 'Business Applications',
      ProviderName: 'ACMECORP',
      ChargeClass: null,
    });
  });

  it('strict mode (default) rejects spreadsheet money, naming the column, and reads the literal null as null', () => {
    const [saas] = rawRows(
      'focus/spec-v1.2-examples/saas_examples/simple_agreements/simple_saas_agreements_a1.csv',
      meta,
    );
    expect(run(saas, { default_currency: 'USD' })).toMatchObject({
      ok: false,
      reason: 'malformed',
      field: 'BilledCost',
    });
    const [flex] = rawRows(
      'focus/spec-v1.2-examples/commitment_discount_flexibility/one_hundred_percent_utilization_without_commitment_discount_flexibility.csv',
      meta,
    );
    expect(flex.columns).toMatchObject({ ConsumedQuantity: 'null', CommitmentDiscountStatus: 'null' });
    expect(run(flex, { default_currency: 'USD' })).toMatchObject({
      ok: true,
      record: {
        ConsumedQuantity: null,
        ConsumedUnit: null,
        CommitmentDiscountStatus: null,
        BilledCost: '1.5',
      },
    });
  });
});

describe('FOCUS written by a SQL engine', () => {
  // A FOCUS 1.0 row as a query engine's CSV writer leaves it: the literal NULL for every null.
  const columns: Record<string, string> = {
    BilledCost: '4.2',
    EffectiveCost: '4.2',
    ListCost: 'NULL',
    ContractedCost: 'NULL',
    BillingCurrency: 'USD',
    BillingAccountId: '111122223333',
    SubAccountId: 'NULL',
    ChargeCategory: 'Usage',
    ChargeClass: 'NULL',
    ChargeFrequency: 'Usage-Based',
    ChargePeriodStart: '2024-03-05 00:00:00',
    ChargePeriodEnd: '2024-03-05 01:00:00',
    BillingPeriodStart: '2024-03-01 00:00:00',
    BillingPeriodEnd: '2024-04-01 00:00:00',
    ServiceName: 'Virtual Machines',
    ServiceCategory: 'Compute',
    CommitmentDiscountId: 'NULL',
    Tags: 'NULL',
  };
  const row: RawUsageRow = {
    provider: 'azure',
    format: 'focus',
    scope: 'azure/focus/2024-03',
    revision_id: 'r1',
    billing_period: '2024-03',
    object: 'file:///exports/focus.csv',
    line: 2,
    columns,
  };

  it('reads NULL as null in every column, strict mode', () => {
    expect(ok(row)).toMatchObject({
      BilledCost: '4.2',
      ListCost: null,
      ContractedCost: '4.2', // FOCUS 1.2: never null; a charge without one is at its billed cost
      SubAccountId: null,
      ChargeClass: null,
      CommitmentDiscountId: null,
      Tags: {},
    });
  });

  it('still requires the mandatory columns: NULL where one is required is malformed, naming it', () => {
    expect(run({ ...row, columns: { ...columns, BilledCost: 'NULL' } })).toMatchObject({
      ok: false,
      field: 'BilledCost',
    });
  });
});

describe('FOCUS 1.0-preview column names', () => {
  it('reads Region, UsageQuantity / UsageUnit and ChargeSubcategory as their later names say', () => {
    const preview = (extra: Record<string, string>): RawUsageRow => ({
      provider: 'azure',
      format: 'azure-focus',
      scope: 'azure/focus/2025-01',
      revision_id: 'run-1',
      billing_period: '2025-01',
      object: 'abfs://c/focus.csv',
      line: 2,
      columns: {
        BilledCost: '3',
        EffectiveCost: '2',
        BillingCurrency: 'USD',
        BillingAccountId: 'acct',
        ChargeCategory: 'Usage',
        ChargePeriodStart: '2025-01-05T00:00:00Z',
        ChargePeriodEnd: '2025-01-06T00:00:00Z',
        Region: 'westeurope',
        UsageQuantity: '24',
        UsageUnit: 'Hours',
        ...extra,
      },
    });
    expect(ok(preview({ ChargeSubcategory: 'Used Commitment' }))).toMatchObject({
      RegionId: 'westeurope',
      RegionName: 'westeurope',
      ConsumedQuantity: '24',
      ConsumedUnit: 'Hours',
      CommitmentDiscountStatus: 'Used',
      ChargeClass: null,
    });
    expect(ok(preview({ ChargeSubcategory: 'Refund', ChargeCategory: 'Purchase' }))).toMatchObject({
      ChargeClass: 'Correction',
      CommitmentDiscountStatus: null,
    });
  });
});

describe('FOCUS exports of AWS and Azure', () => {
  const row = (format: string, provider: string, columns: Record<string, string>): RawUsageRow => ({
    provider,
    format,
    scope: `${provider}/focus/2025-01`,
    revision_id: 'exec-1',
    billing_period: '2025-01',
    object: `s3://b/${format}.csv`,
    line: 2,
    columns,
  });
  const columns = {
    BilledCost: '12.3456789012345678901',
    EffectiveCost: '10.5',
    BillingCurrency: 'USD',
    BillingAccountId: '111122223333',
    SubAccountId: '444455556666',
    ChargeCategory: 'Usage',
    ChargeFrequency: 'Usage-Based',
    ChargePeriodStart: '2025-01-05T00:00:00.000Z',
    ChargePeriodEnd: '2025-01-05T01:00:00.000Z',
    BillingPeriodStart: '2025-01-01T00:00:00Z',
    BillingPeriodEnd: '2025-02-01T00:00:00Z',
    ServiceName: 'Amazon Elastic Compute Cloud',
    ServiceCategory: 'Compute',
    Tags: '{"customer":"acme","user:team":"core"}',
    x_ServiceCode: 'AmazonEC2',
  };

  it('aws-focus maps FOCUS columns directly and ignores x_ columns', () => {
    const r = ok(row('aws-focus', 'aws', columns));
    expect(r).toMatchObject({
      BilledCost: '12.3456789012345678901',
      EffectiveCost: '10.5',
      ProviderName: 'AWS',
      ChargePeriodStart: '2025-01-05T00:00:00Z',
      Tags: { customer: 'acme', 'user:team': 'core' },
      ContractedCost: '12.3456789012345678901', // none in the file: the billed cost
    });
    expect(Object.keys(r)).not.toContain('x_ServiceCode');
  });

  it('azure-focus fills ContractedCost / ListCost, lower-cases ids, adds braces to Tags, uses x_BillingAccountId', () => {
    const r = ok(
      row('azure-focus', 'azure', {
        ...columns,
        BillingAccountId: '/providers/Microsoft.Billing/billingAccounts/1:2_2019-05-31/billingProfiles/PROF',
        ResourceName: 'MyVM',
        CommitmentDiscountId: '/providers/Microsoft.Capacity/reservationOrders/ABC',
        Tags: '"customer": "contoso"',
        x_BillingAccountId: 'MCA-ACCOUNT',
      }),
      { attribution: { billing_accounts: { 'MCA-ACCOUNT': 'contoso-billing' } } },
    );
    expect(r).toMatchObject({
      ProviderName: 'Microsoft',
      ContractedCost: '10.5',
      ListCost: '10.5',
      ResourceName: 'myvm',
      CommitmentDiscountId: '/providers/microsoft.capacity/reservationorders/abc',
      Tags: { customer: 'contoso' },
      x_CustomerId: 'contoso-billing',
      x_AttributionRule: 'billing_account',
    });
  });

  it('a ChargeCategory outside FOCUS is a schema_violation', () => {
    expect(run(row('aws-focus', 'aws', { ...columns, ChargeCategory: 'Discount' }))).toMatchObject({
      ok: false,
      reason: 'schema_violation',
      field: 'ChargeCategory',
    });
    expect(run(row('focus', 'aws', { ...columns, ChargeClass: 'Refund' }))).toMatchObject({
      ok: false,
      reason: 'schema_violation',
      field: 'ChargeClass',
    });
  });

  it('a charge period ending before it starts is a schema_violation', () => {
    expect(run(row('focus', 'aws', { ...columns, ChargePeriodEnd: '2025-01-04T00:00:00Z' }))).toMatchObject({
      ok: false,
      reason: 'schema_violation',
      field: 'ChargePeriodEnd',
    });
  });

  it.each([
    { column: 'BilledCost', value: '12.34.5' },
    { column: 'EffectiveCost', value: 'ten' },
    { column: 'ChargePeriodStart', value: '2025-01-05T00:00:00+25:00' },
    { column: 'BillingPeriodEnd', value: '2025-02-30T00:00:00Z' },
    { column: 'Tags', value: '{"customer": acme}' },
  ])('malformed $column = "$value"', ({ column, value }) => {
    expect(run(withColumns(row('focus', 'aws', columns), { [column]: value }))).toMatchObject({
      ok: false,
      reason: 'malformed',
      field: column,
    });
  });
});
