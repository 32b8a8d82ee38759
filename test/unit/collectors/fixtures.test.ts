import type { ExportFormat } from '../../../providers/registry';
import { billedCostOf, currencyOf, resolveBilledCostColumn } from '../../../collectors/formats/columns';
import { createReadStream } from 'node:fs';
import { readCsvHeader } from '../../../collectors/formats/csv-rows';
import { openDecoded } from '../../../collectors/formats/decode';
import { Decimal } from '../../../schemas/decimal';
import { InputError } from '../../../runtime/errors';
import { fixture } from '../../support/fixtures';
import { readFixtureCsv, rowsOnly, rowsWithColumns } from './helpers';

// Expected counts are the row counts in the fixture folders' README.txt; sums were computed independently
// (Python csv + decimal) over the same files.
const CASES: {
  path: string[];
  format: ExportFormat;
  rows: number;
  column: string | undefined;
  sum: string;
}[] = [
  {
    path: ['aws', 'legacy-cur', 'koku_test_cur.csv'],
    format: 'aws-cur-legacy',
    rows: 19,
    column: 'lineItem/UnblendedCost',
    sum: '0.0827499841274349353',
  },
  {
    path: ['aws', 'legacy-cur', 'koku_test_cur.csv.gz'],
    format: 'aws-cur-legacy',
    rows: 19,
    column: 'lineItem/UnblendedCost',
    sum: '0.0827499841274349353',
  },
  {
    path: ['aws', 'legacy-cur', 'koku_2023-06-01-not-final.csv'],
    format: 'aws-cur-legacy',
    rows: 3,
    column: 'lineItem/UnblendedCost',
    sum: '30',
  },
  {
    path: ['aws', 'legacy-cur', 'koku_2022-07-01-athena-style-columns.csv'],
    format: 'aws-cur-legacy',
    rows: 2,
    column: 'line_item_unblended_cost',
    sum: '0',
  },
  {
    path: ['aws', 'legacy-cur', 'koku_empty_frame.csv'],
    format: 'aws-cur-legacy',
    rows: 0,
    column: 'lineItem/UnblendedCost',
    sum: '0',
  },
  {
    path: [
      'aws',
      'legacy-cur',
      's3-layout-create-new',
      'koku-local',
      '20180801-20180901',
      '16e57707-f9e3-49be-8be6-b84e684b5194',
      'koku-local-1.csv.gz',
    ],
    format: 'aws-cur-legacy',
    rows: 13380,
    column: 'lineItem/UnblendedCost',
    sum: '143227.763678187615017991050',
  },
  {
    path: ['azure', 'ea', 'finops-toolkit_EA_ActualCost_Small.csv'],
    format: 'azure-actual',
    rows: 11,
    column: 'Cost',
    sum: '8.5450077867419368',
  },
  {
    path: ['azure', 'ea', 'finops-toolkit_EA_AmortizedCost_Small.csv'],
    format: 'azure-amortized',
    rows: 28,
    column: 'Cost',
    sum: '16.296932136636644627485419',
  },
  {
    path: ['azure', 'ea', 'finops-toolkit_EA_NoRows.csv'],
    format: 'azure-actual',
    rows: 0,
    column: 'Cost',
    sum: '0',
  },
  {
    path: ['azure', 'ea', 'koku_azure_version_2_EA.csv'],
    format: 'azure-actual',
    rows: 5,
    column: 'CostInBillingCurrency',
    sum: '19.998413754',
  },
  {
    path: ['azure', 'header-variants', 'opencost_headersets_EnterpriseCamel.csv'],
    format: 'azure-actual',
    rows: 1,
    column: 'costInBillingCurrency',
    sum: '0.012',
  },
  {
    path: ['azure', 'header-variants', 'opencost_headersets_BOM.csv'],
    format: 'azure-actual',
    rows: 1,
    column: 'PreTaxCost',
    sum: '0',
  },
  {
    path: ['azure', 'header-variants', 'opencost_values_Template.csv'],
    format: 'azure-actual',
    rows: 87,
    column: 'costinbillingcurrency',
    sum: '16.393506212224391',
  },
  {
    path: ['gcp', 'bigquery-flattened', 'koku_2022-08-01_5.csv'],
    format: 'gcp-detailed',
    rows: 9,
    column: 'cost',
    sum: '0.000012',
  },
  {
    path: ['gcp', 'bigquery-flattened', 'koku_2024-03-01_5.csv'],
    format: 'gcp-detailed',
    rows: 6,
    column: 'cost',
    sum: '0',
  },
  {
    path: [
      'focus',
      'spec-v1.2-examples',
      'commitment_discount_scenarios',
      'commitment_discount_purchase_scenario_3.csv',
    ],
    format: 'focus',
    rows: 4,
    column: 'BilledCost',
    sum: '4381.5',
  },
  {
    path: [
      'focus',
      'spec-v1.2-examples',
      'commitment_discount_flexibility',
      'zero_percent_utilization_without_commitment_discount_flexibility.csv',
    ],
    format: 'focus',
    rows: 3,
    column: 'BilledCost',
    sum: '3.5',
  },
];

describe('provider fixtures', () => {
  it.each(CASES.map((c) => [c.path[c.path.length - 1], c] as const))(
    '%s: row count and exact billed-cost sum',
    async (_name, c) => {
      const results = await readFixtureCsv(fixture(...c.path));
      expect(results.filter((r) => r.kind === 'malformed')).toEqual([]);
      const rows = rowsOnly(rowsWithColumns(results));
      expect(rows).toHaveLength(c.rows);
      if (rows.length) expect(rows[0].line).toBe(2);
      const path = fixture(...c.path);
      const header = await readCsvHeader(await openDecoded(createReadStream(path), path), { object: path });
      expect(resolveBilledCostColumn(c.format, header)).toBe(c.column);
      let total = new Decimal(0);
      for (const r of rows) total = total.plus(billedCostOf(c.format, r.columns) ?? 0);
      expect(total.toFixed()).toBe(new Decimal(c.sum).toFixed());
    },
    // The 13,380-row file is ~10 MB of CSV; csv-parse reads it in ~1.5 s, slower under ts-jest.
    30_000,
  );

  it('strips the BOM of the toolkit EA file (first header readable by name)', async () => {
    const rows = rowsOnly(
      rowsWithColumns(await readFixtureCsv(fixture('azure', 'ea', 'finops-toolkit_EA_ActualCost_Small.csv'))),
    );
    expect(rows[0].columns.BillingAccountId).toBeDefined();
    expect(Object.keys(rows[0].columns).some((k) => k.startsWith('\ufeff'))).toBe(false);
    expect(currencyOf('azure-actual', rows[0].columns)).toBe(rows[0].columns.BillingCurrency);
  });

  it('treats the 130-field rows under a 131-field header as short rows, not errors', async () => {
    const rows = rowsOnly(
      rowsWithColumns(await readFixtureCsv(fixture('aws', 'legacy-cur', 'koku_test_cur.csv'))),
    );
    expect(rows.map((r) => r.line)).toEqual(Array.from({ length: 19 }, (_, i) => i + 2));
    expect(currencyOf('aws-cur-legacy', rows[0].columns)).toBe('USD');
  });

  it('counts the blank CR lines of the FOCUS spec examples as physical lines', async () => {
    const rows = rowsOnly(
      await readFixtureCsv(
        fixture(
          'focus',
          'spec-v1.2-examples',
          'commitment_discount_flexibility',
          'one_hundred_percent_utilization_with_commitment_discount_flexibility_with_1_resource.csv',
        ),
      ),
    );
    expect(rows.map((r) => r.line)).toEqual([2, 4, 6]);
  });

  it('reads the three billing periods and the fused odd header of the layout fixture', async () => {
    const path = fixture(
      'aws',
      'legacy-cur',
      's3-layout-create-new',
      'koku-local',
      '20180801-20180901',
      '16e57707-f9e3-49be-8be6-b84e684b5194',
      'koku-local-1.csv.gz',
    );
    const header = await readCsvHeader(await openDecoded(createReadStream(path), path), { object: path });
    expect(header).toHaveLength(130);
    expect(header).toContain('pricing/OfferingClasspricing/PurchaseOption');
    const rows = rowsOnly(rowsWithColumns(await readFixtureCsv(path)));
    const periods = new Set(rows.map((r) => r.columns['bill/BillingPeriodStartDate']?.slice(0, 7)));
    // Generated data spans three billing periods although the folder is August (docs/export-formats.md,
    // "AWS legacy CUR manifest").
    expect([...periods].sort()).toEqual(['2018-06', '2018-07', '2018-08']);
  }, 30_000);

  it('throws InputError naming the field for a billed cost that is not a number', () => {
    expect(() => billedCostOf('aws-cur2', { line_item_unblended_cost: '$1.00' })).toThrow(InputError);
    expect(billedCostOf('aws-cur2', { line_item_currency_code: 'USD' })).toBeUndefined();
    expect(billedCostOf('aws-focus', { BilledCost: '-1.5e-3' })?.toFixed()).toBe('-0.0015');
    expect(currencyOf('azure-focus', { BillingCurrency: 'EUR' })).toBe('EUR');
    expect(currencyOf('azure-amortized', { billingCurrency: 'GBP' })).toBe('GBP');
  });
});
