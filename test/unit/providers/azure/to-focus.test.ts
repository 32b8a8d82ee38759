import { azureChargeCategory, azureKey, splitUnitOfMeasure } from '../../../../providers/azure/to-focus';
import { decimalToString } from '../../../../schemas/decimal';
import { ok, rawRows, readCsv, run, sumText, withColumns } from '../../processors/normalize/helpers';

const rows = (file: string, format: string, billing_period: string) =>
  rawRows(`azure/${file}`, { provider: 'azure', format, billing_period });

describe('Azure golden fixtures: BilledCost sums exactly to the cost column', () => {
  const cases = [
    // Totals independently summed with Python decimal from the fixture files.
    {
      file: 'ea/finops-toolkit_EA_ActualCost_Small.csv',
      format: 'azure-actual',
      period: '2023-09',
      n: 11,
      cost: 'Cost',
      total: '8.5450077867419368',
    },
    {
      file: 'ea/finops-toolkit_EA_AmortizedCost_Small.csv',
      format: 'azure-amortized',
      period: '2023-09',
      n: 28,
      cost: 'Cost',
      total: '16.296932136636644627485419',
    },
    {
      file: 'ea/koku_azure_version_2_EA.csv',
      format: 'azure-actual',
      period: '2020-09',
      n: 5,
      cost: 'CostInBillingCurrency',
      total: '19.998413754',
    },
    {
      file: 'header-variants/opencost_values_Template.csv',
      format: 'azure-actual',
      period: '2021-02',
      n: 87,
      cost: 'costinbillingcurrency',
      total: '16.393506212224391',
    },
  ];

  it.each(cases)('$file ($n rows)', ({ file, format, period, n, cost, total }) => {
    const source = readCsv(`azure/${file}`);
    // opencost Template has no currency column at all: default_currency covers it.
    const records = rows(file, format, period).map((r) => ok(r, { default_currency: 'USD' }));
    expect(records).toHaveLength(n);
    const billed = sumText(records.map((r) => r.BilledCost));
    expect(billed).toBe(sumText(source.map((s) => s.all[cost])));
    expect(billed).toBe(total);
    // Services as the FinOps toolkit maps them: one ServiceCategory and subcategory per ServiceName
    // (FOCUS ServiceName-C-005), whatever meter category a row of the service carries.
    const categories = new Map<string, Set<string>>();
    for (const r of records) {
      const key = r.ServiceName ?? '';
      categories.set(
        key,
        (categories.get(key) ?? new Set()).add(`${r.ServiceCategory}/${r.ServiceSubcategory}`),
      );
    }
    for (const [service, set] of categories) expect([service, set.size]).toEqual([service, 1]);
    for (const r of records) {
      expect(r.ProviderName).toBe('Microsoft');
      expect(r.ChargePeriodStart).toMatch(/^\d{4}-\d{2}-\d{2}T00:00:00Z$/);
      expect(Date.parse(r.ChargePeriodEnd) - Date.parse(r.ChargePeriodStart)).toBe(86_400_000);
    }
  });

  it('without default_currency a file with no currency column is malformed (BillingCurrency)', () => {
    const [first] = rows('header-variants/opencost_values_Template.csv', 'azure-actual', '2021-02');
    expect(run(first)).toMatchObject({ ok: false, reason: 'malformed', field: 'BillingCurrency' });
  });
});

describe('Azure EA actual / amortized semantics', () => {
  const actual = rows('ea/finops-toolkit_EA_ActualCost_Small.csv', 'azure-actual', '2023-09').map((r) =>
    ok(r),
  );
  const amortized = rows('ea/finops-toolkit_EA_AmortizedCost_Small.csv', 'azure-amortized', '2023-09').map(
    (r) => ok(r),
  );

  it('the RI purchase row is a Purchase of a Reservation, recurring', () => {
    const purchase = actual[0];
    expect(purchase).toMatchObject({
      ChargeCategory: 'Purchase',
      ChargeClass: null,
      ChargeFrequency: 'Recurring',
      BilledCost: '3.25',
      CommitmentDiscountType: 'Reservation',
      CommitmentDiscountCategory: 'Usage',
      CommitmentDiscountId:
        '/providers/microsoft.capacity/reservationorders/49ed0e4d-8e0c-4f1f-af2c-67c865056615/reservations/',
      ConsumedQuantity: null,
    });
    expect(actual.filter((r) => r.ChargeCategory === 'Purchase')).toHaveLength(1);
  });

  it('MM/dd/yyyy dates; inclusive BillingPeriodEndDate becomes exclusive', () => {
    expect(actual[0].ChargePeriodStart).toBe('2023-09-21T00:00:00Z');
    expect(actual[0].ChargePeriodEnd).toBe('2023-09-22T00:00:00Z');
    expect(actual[0].BillingPeriodStart).toBe('2023-09-01T00:00:00Z');
    expect(actual[0].BillingPeriodEnd).toBe('2023-10-01T00:00:00Z'); // 09/30/2023 inclusive
  });

  it('amortized reservation and savings plan usage: Used commitments of the right type', () => {
    const [ri, sp] = amortized;
    expect(ri).toMatchObject({
      ChargeCategory: 'Usage',
      CommitmentDiscountType: 'Reservation',
      CommitmentDiscountCategory: 'Usage',
      CommitmentDiscountStatus: 'Used',
      BilledCost: '0.493152',
      EffectiveCost: '0.493152',
      ConsumedQuantity: '8',
      PricingUnit: 'Hours',
    });
    expect(sp).toMatchObject({
      CommitmentDiscountType: 'Savings Plan',
      CommitmentDiscountCategory: 'Spend',
      CommitmentDiscountStatus: 'Used',
      BilledCost: '0.006000000468',
    });
    expect(amortized.filter((r) => r.CommitmentDiscountId !== null)).toHaveLength(2);
  });

  it('tags written without braces are parsed (empty values kept)', () => {
    expect(amortized[0].Tags).toMatchObject({
      'aks-managed-createOperationID': '',
      'aks-managed-poolName': 'agentpool',
      env: 'prod',
      org: 'trey',
    });
    expect(actual[1].Tags).toMatchObject({ CostCenter: '1234', env: 'prod', org: 'trey' });
  });

  it('long decimal costs keep every digit', () => {
    const tiny = amortized.find((r) => r.BilledCost.startsWith('0.0000000072'));
    expect(tiny?.BilledCost).toBe('0.000000007292255759239199');
  });

  it('services by the FinOps toolkit, from ConsumedService and the resource type in ResourceId', () => {
    // microsoft.capacity/reservationorders/reservations: the toolkit's row for reservations.
    expect(actual[0]).toMatchObject({
      ServiceName: 'Azure Reservations',
      ServiceCategory: 'Management and Governance',
      ServiceSubcategory: 'Cost Management',
    });
    const mysql = actual.find((r) => r.ResourceId?.includes('Microsoft.DBforMySQL'));
    expect(mysql).toMatchObject({ ServiceName: 'Azure DB for MySQL', ServiceCategory: 'Databases' });
  });
});

describe('Azure header variants', () => {
  it('koku EA (CostInBillingCurrency, yyyy-MM-dd, BillingCurrencyCode, numeric EA enrollment)', () => {
    const records = rows('ea/koku_azure_version_2_EA.csv', 'azure-actual', '2020-09').map((r) => ok(r));
    expect(records[0]).toMatchObject({
      BilledCost: '0.114455',
      BillingCurrency: 'MC',
      BillingAccountId: '99999999', // EA: the enrollment, not BillingProfileId 88888888
      ChargePeriodStart: '2020-09-22T00:00:00Z',
      BillingPeriodEnd: '2020-10-01T00:00:00Z',
      SubAccountId: '7269128e-efae-4646-a2d7-8b3fec4751fb',
    });
    expect(records[1].ChargeCategory).toBe('Purchase');
    expect(records[2]).toMatchObject({
      ConsumedQuantity: '22',
      PricingQuantity: '2.2',
      PricingUnit: 'Hours',
    });
  });

  it('EA PascalCase Enterprise file', () => {
    const [r] = rows('header-variants/opencost_headersets_Enterprise.csv', 'azure-actual', '2021-05').map(
      (x) => ok(x),
    );
    expect(r).toMatchObject({
      BilledCost: '0',
      BillingCurrency: 'CAD',
      ChargePeriodStart: '2021-02-02T00:00:00Z',
      BillingPeriodStart: '2021-05-01T00:00:00Z',
      BillingPeriodEnd: '2021-06-01T00:00:00Z',
      RegionId: 'canadacentral',
    });
    expect(r.Tags.orchestrator).toMatch(/^Kubernetes:/);
  });

  it('MCA / partner camelCase with PascalCase stragglers', () => {
    const [r] = rows(
      'header-variants/opencost_headersets_EnterpriseCamel.csv',
      'azure-actual',
      '2021-02',
    ).map((x) => ok(x));
    expect(r).toMatchObject({
      BilledCost: '0.012',
      BillingCurrency: 'USD',
      SubAccountId: '11111111-1111-1111-1111-123456789012',
      SubAccountName: 'Microsoft Azure',
      SkuId: 'DZH318Z0BNXN0032',
      ServiceName: 'Storage Accounts', // the resource is a storage account (its meter: Virtual Network)
      ServiceCategory: 'Storage',
      InvoiceIssuerName: 'PartnerName',
      ListUnitPrice: '0.004',
      RegionName: 'US West',
    });
    expect(r.Tags.Vendor).toBe('Databricks');
  });

  it('German localized headers map like the English legacy usage headers', () => {
    const [german] = rows('header-variants/opencost_headersets_German.csv', 'azure-actual', '2021-02').map(
      (x) => ok(x),
    );
    const [payg] = rows('header-variants/opencost_headersets_PayAsYouGo.csv', 'azure-actual', '2021-02').map(
      (x) => ok(x),
    );
    const [ya] = rows('header-variants/opencost_headersets_YA.csv', 'azure-actual', '2021-02').map((x) =>
      ok(x),
    );
    const strip = (r: typeof german) => ({ ...r, x_RecordId: '', x_SourceObject: '' });
    expect(strip(german)).toEqual(strip(payg));
    expect(german).toMatchObject({
      BilledCost: '0.075',
      SubAccountId: '11111111-12ab-34dc-56ef-123456abcdef',
      ConsumedQuantity: '3',
      PricingQuantity: '0.03', // 3 / "100 Hours"
      PricingUnit: 'Hours',
      ServiceCategory: 'Networking',
    });
    expect(ya).toMatchObject({ BilledCost: '0.075', SubAccountId: '11111111-12ab-34dc-56ef-123456abcdef' });
  });

  it('tags without braces and with braces give the same map', () => {
    const [missing] = rows(
      'header-variants/opencost_values_MissingBrackets.csv',
      'azure-actual',
      '2021-02',
    ).map((x) => ok(x, { default_currency: 'USD' }));
    const [vm] = rows('header-variants/opencost_values_VirtualMachine.csv', 'azure-actual', '2021-02').map(
      (x) => ok(x, { default_currency: 'USD' }),
    );
    expect(missing.Tags).toEqual(vm.Tags);
    expect(missing.Tags).toEqual({
      resourceNameSuffix: '12345678',
      aksEngineVersion: 'aks-release-v0.47.0-1-aks',
      creationSource: 'aks-aks-nodepool1-12345678-vmss',
    });
    expect(missing.ListCost).toBe('5');
  });

  it('BOM header file: BOM-prefixed header still resolves; the row has no cost -> malformed', () => {
    expect(azureKey('\uFEFFSubscriptionGuid')).toBe('subscriptionguid');
    expect(azureKey('Abonnement-GUID (SubscriptionGuid)')).toBe('subscriptionguid');
    const [r] = rows('header-variants/opencost_headersets_BOM.csv', 'azure-actual', '2022-11');
    expect(run(r, { default_currency: 'USD' })).toMatchObject({
      ok: false,
      reason: 'malformed',
      field: 'CostInBillingCurrency',
    });
    // With a BOM left in the raw header, the date column is still found.
    const withBom = {
      ...r,
      columns: { '\uFEFFUsageDateTime': '2022-11-03', PreTaxCost: '1', Currency: 'EUR' },
    };
    expect(ok(withBom).ChargePeriodStart).toBe('2022-11-03T00:00:00Z');
  });
});

describe('Azure ChargeType mapping', () => {
  const base = rows('ea/finops-toolkit_EA_ActualCost_Small.csv', 'azure-actual', '2023-09')[1];
  it.each([
    ['Usage', 'Usage', null],
    ['Purchase', 'Purchase', null],
    ['Tax', 'Tax', null],
    ['Refund', 'Purchase', 'Correction'],
    ['RoundingAdjustment', 'Adjustment', null],
    ['UnusedReservation', 'Usage', null],
    ['UnusedSavingsPlan', 'Usage', null],
  ])('%s -> %s / %s', (chargeType, category, chargeClass) => {
    const r = ok(withColumns(base, { ChargeType: chargeType }));
    expect(r.ChargeCategory).toBe(category);
    expect(r.ChargeClass).toBe(chargeClass);
    expect(r.BilledCost).toBe('0.00004');
  });

  it('unused reservation rows are Unused commitments', () => {
    const r = ok(
      withColumns(base, {
        ChargeType: 'UnusedReservation',
        PricingModel: 'Reservation',
        benefitId: '/providers/Microsoft.Capacity/reservationOrders/X/reservations/Y',
      }),
    );
    expect(r).toMatchObject({ CommitmentDiscountStatus: 'Unused', CommitmentDiscountType: 'Reservation' });
  });

  it('MCA previousInvoiceId marks a correction', () => {
    expect(ok(withColumns(base, { previousInvoiceId: 'G000123' })).ChargeClass).toBe('Correction');
  });

  it('azureChargeCategory defaults legacy rows to Usage', () => {
    expect(azureChargeCategory(null)).toEqual({ category: 'Usage', correction: false });
  });

  it('UnitOfMeasure block sizes', () => {
    const s = (u: string) => {
      const r = splitUnitOfMeasure(u);
      return [decimalToString(r.block), r.unit];
    };
    expect(s('10 Hours')).toEqual(['10', 'Hours']);
    expect(s('10K')).toEqual(['10000', 'Units']); // the FinOps toolkit's PricingUnits table
    expect(s('100 Hours')).toEqual(['100', 'Hours']);
    expect(s('1 GB/Month')).toEqual(['1', 'GB/Month']);
    expect(s('1 MB')).toEqual(['1', 'MB']);
    expect(s('Unassigned')).toEqual(['1', 'Units']);
    // Not in the toolkit's table: the block and unit are read from the text.
    expect(s('7 Widget Hours')).toEqual(['7', 'Widget Hours']);
  });
});

describe('Azure malformed values name the source column', () => {
  const base = rows('ea/finops-toolkit_EA_ActualCost_Small.csv', 'azure-actual', '2023-09')[1];
  it.each([
    { column: 'Cost', value: 'abc' },
    { column: 'Date', value: '13/45/2023' },
    { column: 'BillingPeriodEndDate', value: '2023-02-30' },
    { column: 'Quantity', value: '1.2.3' },
    { column: 'Tags', value: '"env": "prod",' },
  ])('$column = "$value"', ({ column, value }) => {
    const r = run(withColumns(base, { [column]: value }));
    expect(r).toMatchObject({ ok: false, reason: 'malformed', field: column });
  });

  it('camelCase header names are reported as written', () => {
    const [r] = rows('header-variants/opencost_headersets_EnterpriseCamel.csv', 'azure-actual', '2021-02');
    expect(run(withColumns(r, { costInBillingCurrency: '0,012' }))).toMatchObject({
      reason: 'malformed',
      field: 'costInBillingCurrency',
    });
  });
});
