import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import zlib from 'node:zlib';
import Decimal from 'decimal.js';
import { LosslessNumber, parse as losslessParse } from 'lossless-json';
import {
  SERVICE_SUBCATEGORIES_FILE,
  serviceCategoriesPath,
} from '../processors/normalize/service-categories';
import { sampleProcess } from './proc-sampler';

/**
 * `meterflow rate` against DuckDB on ONE thread doing the same job on the same file, in the same
 * run, so RESULTS.md can state the ratio.
 *
 * Workload (not timed): the data rows of the real anonymized legacy CUR export in test/fixtures
 * (koku-local-1.csv.gz: 13,380 rows, 130 columns) repeated until there are >= N rows, header once,
 * written UNCOMPRESSED as cur.csv in a temp dir; both tools read that plain CSV.
 *
 * Timed, each in its own child process sampled with proc-sampler.ts (wall s, CPU s, peak RSS),
 * one after the other:
 * 1. `meterflow rate --provider aws --input cur.csv --out meterflow.ndjson`: parse, normalize to
 *    the full FOCUS record (about 60 fields and Tags), dedupe, price at cost, schema check, NDJSON.
 * 2. DuckDB (@duckdb/node-api, `SET threads=1`) in a child node process:
 *    a. sum of lineItem/UnblendedCost as DECIMAL(38,18) over read_csv(all_varchar) (scan ceiling);
 *    b. the 17 FOCUS columns meterflow derives from the CUR (ids, service, SKU, region, zone,
 *       resource, ChargeCategory by line item type, ISO charge / billing periods, PricingQuantity,
 *       PricingUnit, BilledCost, BillingCurrency) with COPY ... TO duckdb.ndjson (FORMAT json).
 *    The fixture has no product/region column: meterflow leaves RegionId null and puts
 *    product/location in RegionName; DuckDB projects product/location (as RegionId), so it reads
 *    the column meterflow reads.
 *    c. the full record meterflow writes (fullRecordSql): all 74 fields of the rated record in
 *       schema order, by the same rules, record id and ServiceCategory lookup included. This is
 *       the "same projection" the ratio target is about; (b) stays as the lean lower bound.
 * DuckDB's row counts (a: count(*), b and c: COPY's count) must equal meterflow's `rows out`, and
 * after the timed runs assertSameRecords compares (c) with meterflow's output line by line.
 *
 * The jobs are not byte-identical: DuckDB writes the DECIMAL(38,18) money and quantity columns as
 * JSON numbers padded to 18 decimals (0.340000000000000000), which a JSON reader turns into
 * doubles, while meterflow keeps each amount as the export's exact decimal text in a JSON string.
 * DECIMAL(38,18) also rounds amounts with more decimals (the fixture has costs like 4.95...e-05,
 * 21 decimals), so DuckDB's sum differs from meterflow's exact BilledCost total in the last
 * digits; both totals are reported.
 * Against (b), meterflow also does more per row (the rest of the FOCUS record, dedupe, pricing,
 * validation); (c) does the same record, so its ratio compares like with like. DuckDB still
 * skips two things meterflow does per row: the in-memory dedupe (ids are unique by construction
 * in one file) and the per-field schema check of the output.
 *
 *   npm run bench -- duckdb [rows]     (default 250000; no stack needed)
 */

const FIXTURE =
  'test/fixtures/aws/legacy-cur/s3-layout-create-new/koku-local/20180801-20180901/16e57707-f9e3-49be-8be6-b84e684b5194/koku-local-1.csv.gz';

/** Columns the DuckDB queries read; checked against the fixture's header before any run. */
const CUR_COLUMNS = [
  'bill/PayerAccountId',
  'lineItem/UsageAccountId',
  'lineItem/ProductCode',
  'product/sku',
  'product/location',
  'lineItem/AvailabilityZone',
  'lineItem/ResourceId',
  'lineItem/LineItemType',
  'lineItem/UsageStartDate',
  'lineItem/UsageEndDate',
  'bill/BillingPeriodStartDate',
  'bill/BillingPeriodEndDate',
  'lineItem/UsageAmount',
  'pricing/unit',
  'lineItem/UnblendedCost',
  'lineItem/CurrencyCode',
];

const sqlString = (s: string): string => `'${s.replace(/'/g, "''")}'`;

/** ISO 8601 UTC text from a CUR timestamp (`2018-06-20 01:00:00` or `2018-07-01T00:00:00Z`). */
const iso = (col: string): string =>
  `strftime(strptime("${col}", ['%Y-%m-%d %H:%M:%S', '%Y-%m-%dT%H:%M:%SZ']), '%Y-%m-%dT%H:%M:%SZ')`;

function projectionSql(csv: string, out: string): string {
  const read = `read_csv(${sqlString(csv)}, header=true, all_varchar=true)`;
  return `COPY (SELECT
    "bill/PayerAccountId" AS BillingAccountId,
    "lineItem/UsageAccountId" AS SubAccountId,
    'AWS' AS ProviderName,
    "lineItem/ProductCode" AS ServiceName,
    "product/sku" AS SkuId,
    "product/location" AS RegionId,
    "lineItem/AvailabilityZone" AS AvailabilityZone,
    "lineItem/ResourceId" AS ResourceId,
    CASE
      WHEN "lineItem/LineItemType" IN ('Usage', 'DiscountedUsage', 'SavingsPlanCoveredUsage') THEN 'Usage'
      WHEN "lineItem/LineItemType" = 'Tax' THEN 'Tax'
      WHEN "lineItem/LineItemType" IN ('Credit', 'Refund') THEN 'Credit'
      WHEN "lineItem/LineItemType" IN ('Fee', 'RIFee') THEN 'Purchase'
      ELSE 'Adjustment'
    END AS ChargeCategory,
    ${iso('lineItem/UsageStartDate')} AS ChargePeriodStart,
    ${iso('lineItem/UsageEndDate')} AS ChargePeriodEnd,
    ${iso('bill/BillingPeriodStartDate')} AS BillingPeriodStart,
    ${iso('bill/BillingPeriodEndDate')} AS BillingPeriodEnd,
    CAST("lineItem/UsageAmount" AS DECIMAL(38,18)) AS PricingQuantity,
    "pricing/unit" AS PricingUnit,
    CAST("lineItem/UnblendedCost" AS DECIMAL(38,18)) AS BilledCost,
    "lineItem/CurrencyCode" AS BillingCurrency
  FROM ${read}) TO ${sqlString(out)} (FORMAT json)`;
}

/**
 * The whole record `meterflow rate` writes, every field in schemas/usage-record.avsc order, derived
 * in SQL from the same CUR columns by the same rules as providers/aws/to-focus.ts and rated at cost
 * as meterflow rates without a price book: this is "the same projection". A column the header
 * lacks is NULL, as in meterflow. x_RecordId is the same sha256 over scope, revision, object and
 * line (schemas/record-id.ts), so DuckDB numbers the lines too.
 */
export function fullRecordSql(
  csv: string,
  out: string,
  header: readonly string[],
  categories: string,
  subcategories: string,
): string {
  const has = new Set(header);
  const c = (...names: string[]): string => {
    const found = names.filter((n) => has.has(n)).map((n) => `NULLIF("${n}", '')`);
    return found.length === 0 ? 'NULL' : found.length === 1 ? found[0] : `coalesce(${found.join(', ')})`;
  };
  const t = c('lineItem/LineItemType');
  const usage = `coalesce(${t}, 'Usage') IN ('Usage', 'DiscountedUsage', 'SavingsPlanCoveredUsage', 'SavingsPlanNegation')`;
  const category = `CASE
      WHEN ${usage} THEN 'Usage'
      WHEN ${t} IN ('Fee', 'RIFee', 'SavingsPlanUpfrontFee', 'SavingsPlanRecurringFee') THEN 'Purchase'
      WHEN ${t} = 'Tax' THEN 'Tax'
      WHEN ${t} IN ('Credit', 'Discount', 'BundledDiscount', 'PrivateRateDiscount', 'EdpDiscount', 'DistributorDiscount') THEN 'Credit'
      WHEN ${t} = 'Refund' THEN CASE WHEN ${c('lineItem/TaxType')} IS NOT NULL THEN 'Tax' ELSE 'Credit' END
      ELSE 'Adjustment' END`;
  const dec = (col: string) => `CAST(${col} AS DECIMAL(38,18))`;
  const billed = dec(c('lineItem/UnblendedCost'));
  const amount = dec(c('lineItem/UsageAmount'));
  const unit = c('pricing/unit');
  const resource = c('lineItem/ResourceId');
  // arnParts: the resource part of an ARN (fields 6..), type before the first '/' or ':'.
  const arnResource = `CASE WHEN starts_with(${resource}, 'arn:') THEN array_to_string(string_split(${resource}, ':')[6:], ':') END`;
  const spArn = c('savingsPlan/SavingsPlanARN');
  const riArn = c('reservation/ReservationARN');
  const sp = `${spArn} IS NOT NULL AND ${t} IN ('SavingsPlanCoveredUsage', 'SavingsPlanNegation', 'SavingsPlanUpfrontFee', 'SavingsPlanRecurringFee')`;
  const ri = `NOT (${sp}) AND ${riArn} IS NOT NULL AND ${t} IN ('DiscountedUsage', 'RIFee', 'Fee')`;
  const zero = `CAST(0 AS DECIMAL(38,18))`;
  const effective = `CASE ${t}
      WHEN 'SavingsPlanCoveredUsage' THEN coalesce(${dec(c('savingsPlan/SavingsPlanEffectiveCost'))}, ${billed})
      WHEN 'SavingsPlanRecurringFee' THEN coalesce(${dec(c('savingsPlan/TotalCommitmentToDate'))} - ${dec(c('savingsPlan/UsedCommitment'))}, ${billed})
      WHEN 'SavingsPlanNegation' THEN ${zero}
      WHEN 'SavingsPlanUpfrontFee' THEN ${zero}
      WHEN 'DiscountedUsage' THEN coalesce(${dec(c('reservation/EffectiveCost'))}, ${billed})
      WHEN 'RIFee' THEN coalesce(${dec(c('reservation/UnusedAmortizedUpfrontFeeForBillingPeriod'))} + ${dec(c('reservation/UnusedRecurringFee'))}, ${billed})
      WHEN 'Fee' THEN CASE WHEN ${riArn} IS NOT NULL THEN ${zero} ELSE ${billed} END
      ELSE ${billed} END`;
  const term = c('pricing/term');
  const pricingCategory = `CASE
      WHEN category NOT IN ('Usage', 'Purchase') THEN NULL
      WHEN ${t} IN ('SavingsPlanCoveredUsage', 'SavingsPlanNegation', 'SavingsPlanUpfrontFee', 'SavingsPlanRecurringFee', 'DiscountedUsage', 'RIFee', 'Fee') THEN 'Committed'
      WHEN ${term} IS NULL OR ${term} IN ('OnDemand', 'On Demand') THEN 'Standard'
      WHEN ${term} IN ('Spot', 'spot') THEN 'Dynamic'
      WHEN ${term} IN ('Reserved', 'Savings Plan') THEN 'Committed'
      ELSE 'Other' END`;
  // The contracted cost: net unblended where the export has it, else the unblended (billed) cost.
  const net = has.has('lineItem/NetUnblendedCost');
  const contractedCost = net ? `coalesce(${dec(c('lineItem/NetUnblendedCost'))}, ${billed})` : billed;
  const contractedRate = dec(net ? c('lineItem/NetUnblendedRate') : c('lineItem/UnblendedRate'));
  const capacity = c('reservation/CapacityReservationARN');
  const capacityStatus = c('reservation/CapacityReservationStatus');
  const period = `strftime(strptime(${c('bill/BillingPeriodStartDate')}, ['%Y-%m-%d %H:%M:%S', '%Y-%m-%dT%H:%M:%SZ']), '%Y-%m')`;
  const tagColumns = header.filter((h) => h.startsWith('resourceTags/'));
  const tags =
    tagColumns.length === 0
      ? `'{}'::JSON`
      : `to_json(map_from_entries(list_filter([${tagColumns
          .map(
            (h) => `{'k': ${sqlString(h.slice('resourceTags/'.length).replace(/^user:/, ''))}, 'v': "${h}"}`,
          )
          .join(', ')}], e -> e.v IS NOT NULL AND e.v <> '')))`;
  return `COPY (
  WITH src AS (SELECT *, row_number() OVER () + 1 AS line FROM read_csv(${sqlString(csv)}, header=true, all_varchar=true)),
  cat AS (SELECT service AS cat_service, first(category) AS cat_category
          FROM read_csv(${sqlString(categories)}, header=true, comment='#', all_varchar=true)
          WHERE provider = 'aws' GROUP BY service),
  sub AS (SELECT lower(service) AS sub_service, first(subcategory) AS sub_subcategory
          FROM read_csv(${sqlString(subcategories)}, header=true, comment='#', all_varchar=true)
          WHERE provider = 'aws' GROUP BY lower(service)),
  f AS (SELECT src.*, ${category} AS category, ${period} AS billing_period,
               coalesce(${c('lineItem/ProductCode', 'product/servicecode')}) AS service
        FROM src)
  SELECT
    ${c('bill/PayerAccountId')} AS BillingAccountId,
    ${c('bill/PayerAccountName')} AS BillingAccountName,
    ${c('lineItem/UsageAccountId')} AS SubAccountId,
    ${c('lineItem/UsageAccountName')} AS SubAccountName,
    'AWS' AS ProviderName,
    coalesce(${c('lineItem/LegalEntity')}, ${c('bill/BillingEntity')}, 'AWS') AS PublisherName,
    'AWS' AS InvoiceIssuerName,
    service AS ServiceName,
    coalesce(cat_category, 'Other') AS ServiceCategory,
    ${c('product/sku')} AS SkuId,
    ${c('pricing/RateCode', 'pricing/RateId')} AS SkuPriceId,
    ${c('product/region', 'product/regionCode')} AS RegionId,
    ${c('product/location')} AS RegionName,
    ${c('lineItem/AvailabilityZone')} AS AvailabilityZone,
    ${resource} AS ResourceId,
    CASE WHEN ${arnResource} <> '' THEN regexp_extract(${arnResource}, '([^/:]*)$') END AS ResourceName,
    CASE WHEN ${arnResource} <> '' THEN nullif(regexp_extract(${arnResource}, '^([^/:]+)[/:]', 1), '') END AS ResourceType,
    category AS ChargeCategory,
    CASE WHEN ${t} = 'Refund' OR ${c('bill/BillType')} = 'Refund' THEN 'Correction' END AS ChargeClass,
    ${c('lineItem/LineItemDescription')} AS ChargeDescription,
    CASE WHEN ${usage} THEN 'Usage-Based'
         WHEN ${t} = 'SavingsPlanUpfrontFee' OR ${c('bill/BillType')} IN ('Purchase', 'Refund') THEN 'One-Time'
         ELSE 'Recurring' END AS ChargeFrequency,
    ${iso('lineItem/UsageStartDate')} AS ChargePeriodStart,
    ${iso('lineItem/UsageEndDate')} AS ChargePeriodEnd,
    ${iso('bill/BillingPeriodStartDate')} AS BillingPeriodStart,
    ${iso('bill/BillingPeriodEndDate')} AS BillingPeriodEnd,
    CASE WHEN category = 'Usage' THEN ${amount} END AS ConsumedQuantity,
    CASE WHEN category = 'Usage' AND ${amount} IS NOT NULL THEN ${unit} END AS ConsumedUnit,
    ${amount} AS PricingQuantity,
    CASE WHEN ${amount} IS NOT NULL THEN ${unit} END AS PricingUnit,
    ${dec(c('pricing/publicOnDemandRate'))} AS ListUnitPrice,
    CASE WHEN ${amount} IS NOT NULL THEN ${contractedRate} END AS ContractedUnitPrice,
    ${billed} AS BilledCost,
    ${effective} AS EffectiveCost,
    ${dec(c('pricing/publicOnDemandCost'))} AS ListCost,
    ${contractedCost} AS ContractedCost,
    ${c('lineItem/CurrencyCode')} AS BillingCurrency,
    CASE WHEN ${sp} THEN ${spArn} WHEN ${ri} THEN ${riArn} END AS CommitmentDiscountId,
    CASE WHEN ${sp} THEN 'Savings Plan' WHEN ${ri} THEN 'Reserved Instance' END AS CommitmentDiscountType,
    CASE WHEN ${sp} THEN 'Spend' WHEN ${ri} THEN 'Usage' END AS CommitmentDiscountCategory,
    CASE WHEN ${sp} AND ${t} = 'SavingsPlanCoveredUsage' THEN 'Used'
         WHEN ${ri} AND ${t} = 'DiscountedUsage' THEN 'Used' END AS CommitmentDiscountStatus,
    ${tags} AS Tags,
    'Payer Account' AS BillingAccountType,
    'Linked Account' AS SubAccountType,
    ${c('bill/InvoiceId')} AS InvoiceId,
    coalesce(sub_subcategory, 'Other (' || coalesce(cat_category, 'Other') || ')') AS ServiceSubcategory,
    ${pricingCategory} AS PricingCategory,
    NULL AS PricingCurrency,
    NULL AS PricingCurrencyListUnitPrice,
    NULL AS PricingCurrencyContractedUnitPrice,
    NULL AS PricingCurrencyEffectiveCost,
    ${c('lineItem/UsageType')} AS SkuMeter,
    NULL AS SkuPriceDetails,
    NULL AS CommitmentDiscountName,
    NULL AS CommitmentDiscountQuantity,
    NULL AS CommitmentDiscountUnit,
    ${capacity} AS CapacityReservationId,
    CASE WHEN ${capacity} IS NULL OR ${capacityStatus} IS NULL THEN NULL
         WHEN contains(lower(${capacityStatus}), 'unused') THEN 'Unused'
         WHEN contains(lower(${capacityStatus}), 'used') THEN 'Used' END AS CapacityReservationStatus,
    'AWS' AS ServiceProviderName,
    'AWS' AS HostProviderName,
    substr(sha256(concat_ws(chr(0), 'aws/local/cur.csv/' || billing_period, 'bench', 'local://local/cur.csv', CAST(line AS VARCHAR))), 1, 32) AS x_RecordId,
    'aws/local/cur.csv/' || billing_period AS x_Scope,
    'bench' AS x_Revision,
    billing_period AS x_BillingPeriod,
    'aws-cur-legacy' AS x_SourceFormat,
    'local://local/cur.csv' AS x_SourceObject,
    line AS x_SourceLine,
    'unallocated' AS x_CustomerId,
    'unallocated' AS x_AttributionRule,
    ${billed} AS x_RatedCost,
    ${c('lineItem/CurrencyCode')} AS x_RatedCurrency,
    'at-cost' AS x_PriceRuleId,
    'at-cost' AS x_PriceBookVersion,
    NULL AS x_ExchangeRate
  FROM f LEFT JOIN cat ON cat_service = f.service LEFT JOIN sub ON sub_service = lower(f.service)) TO ${sqlString(out)} (FORMAT json)`;
}

function sumSql(csv: string): string {
  return (
    `SELECT count(*), CAST(sum(CAST("lineItem/UnblendedCost" AS DECIMAL(38,18))) AS VARCHAR) ` +
    `FROM read_csv(${sqlString(csv)}, header=true, all_varchar=true)`
  );
}

/**
 * The DuckDB child: `node duckdb-query.cjs <@duckdb/node-api path> <sql file>`; runs the SQL on
 * one thread and prints one JSON line {version, threads, row} (row = the result's first row).
 */
const CHILD_SCRIPT = `'use strict';
const fs = require('node:fs');
const { DuckDBInstance } = require(process.argv[2]);
(async () => {
  const instance = await DuckDBInstance.create(':memory:');
  const conn = await instance.connect();
  await conn.run('SET threads=1');
  const info = (await conn.runAndReadAll("SELECT version(), current_setting('threads')")).getRows()[0];
  const result = await conn.runAndReadAll(fs.readFileSync(process.argv[3], 'utf8'));
  const row = result.getRows()[0].map((v) => (typeof v === 'bigint' ? v.toString() : String(v)));
  process.stdout.write(JSON.stringify({ version: info[0], threads: String(info[1]), row }) + '\\n');
})().catch((err) => {
  process.stderr.write(String(err && err.stack ? err.stack : err) + '\\n');
  process.exit(1);
});
`;

interface Timed {
  stdout: string;
  stderr: string;
  seconds: number;
  cpuSeconds: number;
  peakRssMb: number;
}

/** Runs `node <args>` as a child sampled by proc-sampler; wall time from spawn to exit. */
async function timedNode(what: string, args: string[], cwd: string): Promise<Timed> {
  const started = Date.now();
  const child = spawn(process.execPath, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  const sampler = sampleProcess(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (c) => (stdout += String(c)));
  child.stderr!.on('data', (c) => (stderr += String(c)));
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  const { peakRssMb, cpuSeconds } = sampler.stop();
  const seconds = (Date.now() - started) / 1000;
  if (code !== 0) throw new Error(`${what} exited ${code}: ${stderr.slice(-2000)}`);
  return { stdout, stderr, seconds, cpuSeconds, peakRssMb };
}

/** Writes the header once, then the fixture's data rows repeated until >= rows; returns rows and bytes. */
function writeCurCsv(
  fixture: string,
  file: string,
  rows: number,
): { rows: number; bytes: number; header: string[] } {
  const text = zlib.gunzipSync(fs.readFileSync(fixture));
  const headerEnd = text.indexOf(0x0a) + 1;
  const header = text.subarray(0, headerEnd);
  let data = text.subarray(headerEnd);
  if (data.length > 0 && data[data.length - 1] !== 0x0a) data = Buffer.concat([data, Buffer.from('\r\n')]);
  let perCopy = 0;
  for (let i = 0; i < data.length; i++) if (data[i] === 0x0a) perCopy++;
  const columns = header.toString('utf8').trim().split(',');
  const missing = CUR_COLUMNS.filter((c) => !columns.includes(c));
  if (missing.length > 0) throw new Error(`${fixture}: header lacks ${missing.join(', ')}`);
  const copies = Math.max(1, Math.ceil(rows / perCopy));
  const fd = fs.openSync(file, 'w');
  try {
    fs.writeSync(fd, header);
    for (let i = 0; i < copies; i++) fs.writeSync(fd, data);
  } finally {
    fs.closeSync(fd);
  }
  return { rows: copies * perCopy, bytes: header.length + copies * data.length, header: columns };
}

export async function benchDuckdb(rowsArg: number): Promise<Record<string, string | number>> {
  const root = path.resolve(__dirname, '..');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meterflow-bench-duckdb-'));
  try {
    const csv = path.join(dir, 'cur.csv');
    const { rows, bytes, header } = writeCurCsv(path.join(root, FIXTURE), csv, rowsArg);
    execFileSync('npm', ['run', 'build', '--silent'], { cwd: root, stdio: 'ignore' });

    // 1. meterflow
    const mf = await timedNode(
      'meterflow rate',
      [
        path.join(root, 'dist/cli/main.js'),
        'rate',
        '--provider',
        'aws',
        '--input',
        csv,
        '--out',
        path.join(dir, 'meterflow.ndjson'),
      ],
      root,
    );
    const rowsOutText = /rows out:\s+(\d+)/.exec(mf.stderr)?.[1];
    if (rowsOutText === undefined) throw new Error(`meterflow rate printed no 'rows out':\n${mf.stderr}`);
    const rowsOut = Number(rowsOutText);
    const billedOut = /BilledCost out:\s+(.+)/.exec(mf.stderr)?.[1].trim() ?? 'unknown';

    // 2. DuckDB, one thread
    const script = path.join(dir, 'duckdb-query.cjs');
    fs.writeFileSync(script, CHILD_SCRIPT);
    const duckdbModule = require.resolve('@duckdb/node-api', { paths: [root] });
    const duck = async (what: string, sql: string) => {
      const sqlFile = path.join(dir, `${what}.sql`);
      fs.writeFileSync(sqlFile, sql);
      const t = await timedNode(`duckdb ${what}`, [script, duckdbModule, sqlFile], root);
      const res = JSON.parse(t.stdout.trim()) as { version: string; threads: string; row: string[] };
      if (res.threads !== '1') throw new Error(`duckdb ${what} ran with threads=${res.threads}, not 1`);
      return { ...t, ...res };
    };
    const sum = await duck('sum', sumSql(csv));
    const proj = await duck('projection', projectionSql(csv, path.join(dir, 'duckdb.ndjson')));
    const record = await duck(
      'record',
      fullRecordSql(
        csv,
        path.join(dir, 'duckdb-record.ndjson'),
        header,
        serviceCategoriesPath(),
        serviceCategoriesPath(SERVICE_SUBCATEGORIES_FILE),
      ),
    );
    const counts = {
      sum: Number(sum.row[0]),
      projection: Number(proj.row[0]),
      record: Number(record.row[0]),
    };
    if (Object.values(counts).some((n) => n !== rowsOut)) {
      throw new Error(`row counts differ: meterflow rows out ${rowsOut}, duckdb ${JSON.stringify(counts)}`);
    }

    const recordsEqual = await assertSameRecords(
      path.join(dir, 'meterflow.ndjson'),
      path.join(dir, 'duckdb-record.ndjson'),
    );

    const perM = (cpu: number) => +((cpu / rows) * 1e6).toFixed(1);
    const outMb = (f: string) => +(fs.statSync(path.join(dir, f)).size / 1e6).toFixed(1);
    return {
      rows,
      'csv MB': +(bytes / 1e6).toFixed(1),
      'meterflow wall s': +mf.seconds.toFixed(2),
      'meterflow rows/s': Math.round(rows / mf.seconds),
      'meterflow CPU s per 1M rows': perM(mf.cpuSeconds),
      'meterflow peak RSS MB': mf.peakRssMb,
      'duckdb sum wall s': +sum.seconds.toFixed(2),
      'duckdb sum rows/s': Math.round(rows / sum.seconds),
      'duckdb sum MB/s': +(bytes / 1e6 / sum.seconds).toFixed(1),
      'duckdb projection wall s': +proj.seconds.toFixed(2),
      'duckdb projection rows/s': Math.round(rows / proj.seconds),
      'duckdb projection CPU s per 1M rows': perM(proj.cpuSeconds),
      'duckdb projection peak RSS MB': proj.peakRssMb,
      'meterflow / duckdb projection (wall ratio)': +(mf.seconds / proj.seconds).toFixed(2),
      'duckdb full record wall s': +record.seconds.toFixed(2),
      'duckdb full record rows/s': Math.round(rows / record.seconds),
      'duckdb full record CPU s per 1M rows': perM(record.cpuSeconds),
      'duckdb full record peak RSS MB': record.peakRssMb,
      'meterflow / duckdb full record (wall ratio)': +(mf.seconds / record.seconds).toFixed(2),
      'records checked equal, meterflow vs duckdb full record': recordsEqual,
      'meterflow output MB': outMb('meterflow.ndjson'),
      'duckdb projection output MB': outMb('duckdb.ndjson'),
      'duckdb full record output MB': outMb('duckdb-record.ndjson'),
      'BilledCost total, meterflow (exact)': billedOut,
      'BilledCost total, duckdb DECIMAL(38,18)': sum.row[1],
      'duckdb version': proj.version,
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Checks that DuckDB's full record is meterflow's record, field by field, for every line (matched
 * by x_SourceLine): equal text, money equal once meterflow's exact amount is rounded to DuckDB's
 * 18 decimals. Skips the fields that depend on the revision id, which only meterflow computes.
 * Throws on the first difference, so a ratio is never reported for two different jobs.
 */
export async function assertSameRecords(meterflowFile: string, duckdbFile: string): Promise<number> {
  const duck = new Map<number, Record<string, unknown>>();
  for await (const line of readline.createInterface({ input: fs.createReadStream(duckdbFile) })) {
    const r = losslessParse(line) as Record<string, unknown>;
    duck.set(Number(String(r.x_SourceLine)), r);
  }
  const revisionFields = new Set(['x_RecordId', 'x_Revision']);
  let compared = 0;
  for await (const line of readline.createInterface({ input: fs.createReadStream(meterflowFile) })) {
    const mine = JSON.parse(line) as Record<string, unknown>;
    const theirs = duck.get(mine.x_SourceLine as number);
    if (theirs === undefined) throw new Error(`duckdb has no record for line ${String(mine.x_SourceLine)}`);
    const keys = Object.keys(mine);
    if (keys.join() !== Object.keys(theirs).join())
      throw new Error('duckdb record fields differ from meterflow');
    for (const k of keys) {
      if (revisionFields.has(k)) continue;
      const a = mine[k];
      const b = theirs[k];
      const same =
        b instanceof LosslessNumber
          ? typeof a === 'number'
            ? String(a) === b.value
            : typeof a === 'string' && new Decimal(a).toDecimalPlaces(18).equals(new Decimal(b.value))
          : k === 'x_Scope'
            ? String(a).endsWith(String(b).slice(String(b).lastIndexOf('/')))
            : JSON.stringify(a) === JSON.stringify(b);
      if (!same)
        throw new Error(
          `line ${String(mine.x_SourceLine)} ${k}: meterflow ${JSON.stringify(a)}, duckdb ${String(b)}`,
        );
    }
    compared++;
  }
  return compared;
}
