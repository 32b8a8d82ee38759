import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import {
  DEFAULT_NORMALIZE_OPTIONS,
  SUPPORTED_FORMATS,
  formatIso,
  normalizeRow,
  parseNormalizeOptions,
  parseTimestampMs,
  recordId,
  serviceCategoriesPath,
  serviceCategory,
  serviceCategoryCounts,
} from '../../../../processors/normalize';
import { ok, rawRows, run } from './helpers';

const rows = rawRows('aws/legacy-cur/koku_test_cur.csv', {
  provider: 'aws',
  format: 'aws-cur-legacy',
  billing_period: '2018-06',
});

describe('record lineage and id', () => {
  it('x_RecordId is sha256(scope NUL revision NUL object NUL line), first 32 hex', () => {
    const r = ok(rows[0]);
    const expected = createHash('sha256')
      .update(`${rows[0].scope}\u0000rev-1\u0000${rows[0].object}\u00002`)
      .digest('hex')
      .slice(0, 32);
    expect(r.x_RecordId).toBe(expected);
    expect(recordId(rows[0].scope, 'rev-1', rows[0].object, 2)).toBe(expected);
    expect(r.x_RecordId).toMatch(/^[0-9a-f]{32}$/);
  });

  it('same input -> same id; different line, revision, object or scope -> different id', () => {
    const a = ok(rows[0]).x_RecordId;
    expect(ok({ ...rows[0], columns: { ...rows[0].columns } }).x_RecordId).toBe(a);
    expect(ok({ ...rows[0], line: 3 }).x_RecordId).not.toBe(a);
    expect(ok({ ...rows[0], revision_id: 'rev-2' }).x_RecordId).not.toBe(a);
    expect(ok({ ...rows[0], object: 's3://x/y' }).x_RecordId).not.toBe(a);
    expect(ok({ ...rows[0], scope: 'aws/other/2018-06' }).x_RecordId).not.toBe(a);
    const ids = rows.map((r) => ok(r).x_RecordId);
    expect(new Set(ids).size).toBe(rows.length);
  });

  it('copies lineage from the raw row and leaves rating fields null', () => {
    const r = ok({
      ...rows[0],
      scope: 'aws/cur/2018-06',
      revision_id: 'asm-1',
      object: 's3://b/k.csv.gz',
      line: 7,
    });
    expect(r).toMatchObject({
      x_Scope: 'aws/cur/2018-06',
      x_Revision: 'asm-1',
      x_BillingPeriod: '2018-06',
      x_SourceFormat: 'aws-cur-legacy',
      x_SourceObject: 's3://b/k.csv.gz',
      x_SourceLine: 7,
      x_RatedCost: null,
      x_RatedCurrency: null,
      x_PriceRuleId: null,
      x_PriceBookVersion: null,
      x_ExchangeRate: null,
    });
  });

  it('an unknown format is rejected naming the format field', () => {
    expect(run({ ...rows[0], format: 'oracle-csv' })).toMatchObject({
      ok: false,
      reason: 'malformed',
      field: 'format',
    });
    expect(SUPPORTED_FORMATS).toEqual(
      expect.arrayContaining([
        'aws-cur-legacy',
        'aws-cur2',
        'aws-focus',
        'focus',
        'azure-actual',
        'azure-amortized',
        'azure-focus',
        'gcp-standard',
        'gcp-detailed',
      ]),
    );
  });

  it.each(['1e100000000', '1e400', '9'.repeat(31)])(
    'a cost of %p is a malformed row naming the column, not a number to expand',
    (cost) => {
      const columns = { ...rows[0].columns, 'lineItem/UnblendedCost': cost };
      const r = run({ ...rows[0], columns });
      expect(r).toMatchObject({ ok: false, reason: 'malformed', field: 'lineItem/UnblendedCost' });
      expect(r.ok ? '' : r.message).toContain('is not a decimal number (at most 30 integer digits');
    },
  );

  it('normalizeRow does not mutate its input', () => {
    const copy = JSON.parse(JSON.stringify(rows[0]));
    normalizeRow(rows[0], DEFAULT_NORMALIZE_OPTIONS);
    expect(rows[0]).toEqual(copy);
  });
});

describe('timestamps', () => {
  it.each([
    ['2018-06-01T00:00:00Z', '2018-06-01T00:00:00Z'],
    ['2023-11-01T00:00:00.000Z', '2023-11-01T00:00:00Z'],
    ['2018-06-20 01:00:00', '2018-06-20T01:00:00Z'],
    ['2022-07-01 00:00:00.000', '2022-07-01T00:00:00Z'],
    ['20180801T000000.000Z', '2018-08-01T00:00:00Z'],
    ['2022-08-01 03:00:00+00:00', '2022-08-01T03:00:00Z'],
    ['2022-08-02 01:11:12.066000+00:00', '2022-08-02T01:11:12.066Z'],
    ['2020-11-10 05:49:32.199 UTC', '2020-11-10T05:49:32.199Z'],
    ['2024-05-01T00:00:00-07:00', '2024-05-01T07:00:00Z'],
    ['09/21/2023', '2023-09-21T00:00:00Z'],
    ['3/1/21', '2021-03-01T00:00:00Z'],
    ['2020-09-22', '2020-09-22T00:00:00Z'],
  ])('%s -> %s', (text, iso) => {
    const ms = parseTimestampMs(text);
    expect(ms).toBeDefined();
    expect(formatIso(ms!)).toBe(iso);
  });

  it.each([
    '2023-02-30',
    '2023-02-01T30:00:00Z',
    '13/01/2023',
    'yesterday',
    '2023-01-01T00:00:00+25:00',
    '',
    // Years 0000-0099 are not read as 1900-1999 any more.
    '0025-11-01T00:00:00Z',
    '0099-01-01',
    '00251101T000000Z',
  ])('rejects %p', (text) => {
    expect(parseTimestampMs(text)).toBeUndefined();
  });
});

describe('slash (month/day/year) dates, per export format', () => {
  const gcp = rawRows('gcp/bigquery-flattened/koku_2022-08-01_5.csv', {
    provider: 'gcp',
    format: 'gcp-standard',
    billing_period: '2022-08',
  });
  const azure = rawRows('azure/ea/finops-toolkit_EA_ActualCost_Small.csv', {
    provider: 'azure',
    format: 'azure-actual',
    billing_period: '2023-09',
  });

  it.each([
    ['AWS', rows[0], 'lineItem/UsageStartDate'],
    ['GCP', gcp[0], 'usage_start_time'],
  ])('are refused in %s exports, which never write them, naming the column', (_, row, column) => {
    const result = run({ ...row, columns: { ...row.columns, [column]: '01/02/2022' } });
    expect(result).toMatchObject({ ok: false, reason: 'malformed', field: column });
    expect(!result.ok && result.message).toMatch(/"01\/02\/2022" is a slash date/);
  });

  it("are read month first in Azure's Date column, which writes them", () => {
    const r = ok({ ...azure[0], columns: { ...azure[0].columns, Date: '09/02/2023' } });
    expect(r.ChargePeriodStart).toBe('2023-09-02T00:00:00Z');
  });
});

describe('service categories', () => {
  it('loads the three provider tables built from the FinOps converter mappings', () => {
    expect(serviceCategoryCounts()).toEqual({ aws: 213, azure: 97, gcp: 125 });
    const text = fs.readFileSync(serviceCategoriesPath(), 'utf8');
    expect(text).toContain('focus_converters');
    expect(text).toContain('MIT');
  });

  it('looks up exact, then case-insensitive; unknown -> Other', () => {
    expect(serviceCategory('aws', 'AmazonEC2')).toBe('Compute');
    expect(serviceCategory('aws', 'AmazonS3')).toBe('Storage');
    expect(serviceCategory('azure', 'Microsoft.Compute')).toBe('Compute');
    expect(serviceCategory('gcp', 'BigQuery')).toBe('Databases');
    expect(serviceCategory('gcp', 'compute engine')).toBe('Compute');
    expect(serviceCategory('aws', 'NoSuchService')).toBe('Other');
    expect(serviceCategory('oracle', 'AmazonEC2')).toBe('Other');
    expect(serviceCategory('aws', null)).toBe('Other');
  });

  it('falls back to the source folder when running from dist/processors/normalize', () => {
    const moduleDir = path.join(__dirname, '..', '..', '..', '..', 'processors', 'normalize');
    const primary = path.join(moduleDir, 'service-categories.csv');
    const fallback = path.join(
      moduleDir,
      '..',
      '..',
      '..',
      'processors',
      'normalize',
      'service-categories.csv',
    );
    const spy = jest.spyOn(fs, 'existsSync').mockImplementation((p) => p === fallback);
    try {
      expect(serviceCategoriesPath()).toBe(fallback);
    } finally {
      spy.mockRestore();
    }
    expect(serviceCategoriesPath()).toBe(primary);
  });
});

describe('options', () => {
  it('has defaults and validates', () => {
    expect(parseNormalizeOptions()).toEqual({
      attribution: expect.objectContaining({ unallocated_customer: 'unallocated' }),
      default_currency: null,
      lenient_focus: false,
    });
    expect(() => parseNormalizeOptions({ default_currency: 'usd' })).toThrow();
    expect(() => parseNormalizeOptions({ unknown: true })).toThrow();
  });
});
