import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import { importEsm } from '../../collectors/formats/hyparquet';
import { runRate, type RateOptions } from '../../processors/offline/rate';
import { awsKey } from '../../providers/aws/to-focus';
import { writeRatedAs } from '../../processors/offline/formats';
import { nonConformities, validateFocus } from '../conformance/focus-validator';

/**
 * meterflow's rated output of every provider and export format we hold a sample of, checked by the
 * FinOps Foundation's own FOCUS validator (test/conformance/focus-validator.ts) as Parquet, the
 * typed form (a CSV loses the string type of numeric account ids to the validator's inference).
 */
const FIXTURES = path.join(__dirname, '..', 'fixtures');

const SAMPLES: Array<[string, RateOptions['provider'], string]> = [
  ['AWS legacy CUR', 'aws', 'aws/legacy-cur/koku_test_cur.csv'],
  [
    'AWS legacy CUR, Athena column names, Marketplace row',
    'aws',
    'aws/legacy-cur/koku_2022-07-01-athena-style-columns.csv',
  ],
  ['AWS legacy CUR before finalization', 'aws', 'aws/legacy-cur/koku_2023-06-01-not-final.csv'],
  ['Azure EA actual cost', 'azure', 'azure/ea/finops-toolkit_EA_ActualCost_Small.csv'],
  ['Azure EA amortized cost', 'azure', 'azure/ea/finops-toolkit_EA_AmortizedCost_Small.csv'],
  ['GCP billing export (2024)', 'gcp', 'gcp/bigquery-flattened/koku_2024-03-01_5.csv'],
  ['GCP billing export with credits (2022)', 'gcp', 'gcp/bigquery-flattened/koku_2022-08-01_5.csv'],
];

describe('FOCUS conformance, by the official validator', () => {
  jest.setTimeout(600_000);
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meterflow-focus-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  const rate = async (
    provider: RateOptions['provider'],
    input: string,
    format: 'parquet' | 'csv',
    out: string,
  ) => {
    const summary = await runRate({ provider, input, out, format, stderr: devNull() });
    expect(summary.rows_out).toBeGreaterThan(0);
    return summary;
  };

  it.each(SAMPLES)('%s: no rule fails', async (_name, provider, file) => {
    const out = path.join(dir, `${path.basename(file)}.parquet`);
    await rate(provider, path.join(FIXTURES, file), 'parquet', out);
    const report = await validateFocus(out);
    expect(nonConformities(report)).toEqual([]);
    expect(report.passed).toBeGreaterThanOrEqual(130);
  });

  it('AWS CUR 2.0 as a single Parquet file (the legacy sample in CUR 2.0 shape): no rule fails', async () => {
    const csv = path.join(FIXTURES, 'aws/legacy-cur/koku_test_cur.csv');
    const parquet = path.join(dir, 'cur2-export.parquet');
    await cur2ParquetOf(csv, parquet);
    const out = path.join(dir, 'cur2-rated.parquet');
    const fromParquet = await rate('aws', parquet, 'parquet', out);
    expect(fromParquet.revisions[0].format).toBe('aws-cur2');
    expect(nonConformities(await validateFocus(out))).toEqual([]);
    // The same rows and the same exact totals as the CSV they came from.
    const fromCsv = await runRate({
      provider: 'aws',
      input: csv,
      out: path.join(dir, 'cur.ndjson'),
      stderr: devNull(),
    });
    expect(fromParquet.rows_out).toBe(fromCsv.rows_out);
    expect(fromParquet.billed_cost).toEqual(fromCsv.billed_cost);
  });

  it('FOCUS input (a FOCUS 1.2 CSV, nulls as empty cells or as the text NULL): no rule fails', async () => {
    const focusCsv = path.join(dir, 'focus-export.csv');
    await rate('aws', path.join(FIXTURES, 'aws/legacy-cur/koku_test_cur.csv'), 'csv', focusCsv);
    // The same export as a SQL engine writes it: the literal NULL for every null.
    const sqlCsv = path.join(dir, 'focus-export-sql.csv');
    fs.writeFileSync(
      sqlCsv,
      fs
        .readFileSync(focusCsv, 'utf8')
        .split('\r\n')
        .map((line, i) => (i === 0 || line === '' ? line : line.replace(/(^|,)(?=,|$)/g, '$1NULL')))
        .join('\r\n'),
    );
    expect(fs.readFileSync(sqlCsv, 'utf8')).toContain(',NULL,');
    for (const input of [focusCsv, sqlCsv]) {
      const out = path.join(dir, `${path.basename(input)}.parquet`);
      const summary = await rate('focus', input, 'parquet', out);
      expect(summary.dead_letters_total).toBe(0);
      expect(nonConformities(await validateFocus(out))).toEqual([]);
    }
  });

  it('the check fails on output that breaks a rule', async () => {
    // A rated record with ContractedCost null, which FOCUS 1.2 forbids: the validator must say so.
    const ndjson = path.join(dir, 'broken.ndjson');
    await runRate({
      provider: 'aws',
      input: path.join(FIXTURES, 'aws/legacy-cur/koku_test_cur.csv'),
      out: ndjson,
      stderr: devNull(),
    });
    const lines = fs.readFileSync(ndjson, 'utf8').trim().split('\n');
    const first = JSON.parse(lines[0]) as Record<string, unknown>;
    first.ContractedCost = null;
    lines[0] = JSON.stringify(first);
    fs.writeFileSync(ndjson, `${lines.join('\n')}\n`);
    const out = path.join(dir, 'broken.parquet');
    await writeRatedAs('parquet', ndjson, out);
    expect(nonConformities(await validateFocus(out))).toContain('ContractedCost-C-003-M');
  });
});

/**
 * A CUR 2.0-shaped Parquet file from a legacy CUR CSV: the same rows, columns under their CUR 2.0
 * snake_case names (`lineItem/UnblendedCost` -> `line_item_unblended_cost`), the `product/*` and
 * `resourceTags/*` columns folded into CUR 2.0's `product` and `resource_tags` maps (as JSON text,
 * the form Data Exports also write in CSV), every value a string.
 */
async function cur2ParquetOf(csv: string, out: string): Promise<void> {
  // The sample's rows leave trailing empty columns out, as CUR writers do.
  const [header, ...rows] = parse(fs.readFileSync(csv, 'utf8'), { relax_column_count: true }) as string[][];
  const cell = (r: string[], i: number) => (r[i] === undefined || r[i] === '' ? null : r[i]);
  const mapOf = (prefix: string, key: (rest: string) => string) => (r: string[]) => {
    const map: Record<string, string> = {};
    header.forEach((h, i) => {
      const v = cell(r, i);
      if (h.startsWith(prefix) && v !== null) map[key(h.slice(prefix.length))] = v;
    });
    return JSON.stringify(map);
  };
  const flat = header.map((h, i) => [h, i] as const).filter(([h]) => !/^(product|resourceTags)\//.test(h));
  const { parquetWriteFile } =
    await importEsm<typeof import('hyparquet-writer', { with: { 'resolution-mode': 'import' } })>(
      'hyparquet-writer',
    );
  parquetWriteFile({
    filename: out,
    columnData: [
      ...flat.map(([h, i]) => ({
        name: awsKey(h),
        data: rows.map((r) => cell(r, i)),
        type: 'STRING' as const,
      })),
      { name: 'product', data: rows.map(mapOf('product/', (k) => awsKey(k))), type: 'STRING' as const },
      {
        name: 'resource_tags',
        data: rows.map(mapOf('resourceTags/', (k) => k.replace(':', '_'))),
        type: 'STRING' as const,
      },
    ],
  });
}

function devNull(): NodeJS.WritableStream {
  return fs.createWriteStream('/dev/null');
}
