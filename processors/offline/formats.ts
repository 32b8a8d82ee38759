import fs from 'node:fs';
import readline from 'node:readline';
import { rename, rm } from 'node:fs/promises';
import { importEsm } from '../../collectors/formats/hyparquet';
import { ErrorCodes, PermanentError } from '../../runtime/errors';
import { USAGE_DECIMAL_FIELDS } from '../../schemas/money';
import { USAGE_RECORD_FIELDS } from './output';

/*
 * Rated usage as files for FinOps tools: CSV and Parquet, written from the NDJSON that
 * `meterflow rate` produces (its fast path), in two streaming passes, so memory stays bounded by
 * one row group whatever the size of the input.
 *
 *   - CSV (RFC 4180): one column per UsageRecord field in schema order; null is an empty cell, as
 *     in every FOCUS CSV export; Tags is its JSON object; money is the exact decimal text.
 *   - Parquet, typed: strings for ids and text; DECIMAL(38, s) for every amount, quantity and unit
 *     price, with s the most fractional digits the column holds in this file, so every value is
 *     stored exactly (a value that cannot be is refused, never rounded); the four FOCUS timestamps
 *     as TIMESTAMP(UTC, millis); x_SourceLine as INT64; Tags as its JSON text.
 */

export const OUTPUT_FORMATS = ['ndjson', 'csv', 'parquet'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

const DECIMALS: ReadonlySet<string> = new Set(USAGE_DECIMAL_FIELDS);
const TIMESTAMPS: ReadonlySet<string> = new Set([
  'ChargePeriodStart',
  'ChargePeriodEnd',
  'BillingPeriodStart',
  'BillingPeriodEnd',
]);
const LONGS: ReadonlySet<string> = new Set(['x_SourceLine']);
const MAPS: ReadonlySet<string> = new Set(['Tags']);
/** Parquet DECIMAL precision: 38 digits fit a 16-byte two's-complement integer. */
const PRECISION = 38;
const ROW_GROUP_ROWS = 50_000;

/** Writes `ndjson` (rated records, one per line) to `out` as `format`; out appears only once complete. */
export async function writeRatedAs(
  format: Exclude<OutputFormat, 'ndjson'>,
  ndjson: string,
  out: string,
): Promise<void> {
  const partial = `${out}.partial`;
  try {
    if (format === 'csv') await writeCsv(ndjson, partial);
    else await writeParquet(ndjson, partial);
    await rename(partial, out);
  } catch (err) {
    await rm(partial, { force: true });
    throw err;
  }
}

async function* records(ndjson: string): AsyncGenerator<Record<string, unknown>> {
  const lines = readline.createInterface({ input: fs.createReadStream(ndjson), crlfDelay: Infinity });
  for await (const line of lines) if (line !== '') yield JSON.parse(line) as Record<string, unknown>;
}

// ---------------------------------------------------------------------------------------------
// CSV

const NEEDS_QUOTES = /[",\r\n]|^\s|\s$/;

export function csvCell(value: unknown): string {
  if (value === null || value === undefined) return '';
  const text = typeof value === 'object' ? JSON.stringify(value) : String(value);
  return NEEDS_QUOTES.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

async function writeCsv(ndjson: string, file: string): Promise<void> {
  const stream = fs.createWriteStream(file);
  const write = (text: string) =>
    stream.write(text) ? Promise.resolve() : new Promise<void>((r) => stream.once('drain', () => r()));
  try {
    await write(`${USAGE_RECORD_FIELDS.join(',')}\r\n`);
    for await (const r of records(ndjson))
      await write(`${USAGE_RECORD_FIELDS.map((f) => csvCell(r[f])).join(',')}\r\n`);
  } finally {
    await new Promise<void>((resolve, reject) =>
      stream.end((err?: Error | null) => (err ? reject(err) : resolve())),
    );
  }
}

// ---------------------------------------------------------------------------------------------
// Parquet

type HyparquetWriter = typeof import('hyparquet-writer', { with: { 'resolution-mode': 'import' } });

interface DecimalShape {
  scale: number;
  integerDigits: number;
}

/** Digits before and after the point of an exact decimal text ("-12.3400" -> 2 and 4). */
function shapeOf(text: string): DecimalShape {
  const unsigned = text.startsWith('-') ? text.slice(1) : text;
  const dot = unsigned.indexOf('.');
  const int = (dot < 0 ? unsigned : unsigned.slice(0, dot)).replace(/^0+/, '');
  return { scale: dot < 0 ? 0 : unsigned.length - dot - 1, integerDigits: int.length };
}

/** The unscaled integer of a decimal text at `scale` (scale >= the text's own). */
export function unscaled(text: string, scale: number): bigint {
  const negative = text.startsWith('-');
  const unsigned = negative ? text.slice(1) : text;
  const dot = unsigned.indexOf('.');
  const int = dot < 0 ? unsigned : unsigned.slice(0, dot);
  const frac = dot < 0 ? '' : unsigned.slice(dot + 1);
  const n = BigInt(int + frac.padEnd(scale, '0'));
  return negative ? -n : n;
}

/** Pass 1: the scale each decimal column needs, refusing a column no DECIMAL(38, s) holds exactly. */
async function decimalScales(ndjson: string): Promise<Map<string, number>> {
  const shapes = new Map<string, DecimalShape>();
  for (const f of DECIMALS) shapes.set(f, { scale: 0, integerDigits: 0 });
  let line = 0;
  for await (const r of records(ndjson)) {
    line++;
    for (const f of DECIMALS) {
      const v = r[f];
      if (typeof v !== 'string') continue;
      const s = shapeOf(v);
      const acc = shapes.get(f)!;
      acc.scale = Math.max(acc.scale, s.scale);
      acc.integerDigits = Math.max(acc.integerDigits, s.integerDigits);
      if (acc.scale + acc.integerDigits > PRECISION)
        throw new PermanentError(
          ErrorCodes.CONFIG_INVALID,
          `Parquet output: ${f} needs ${acc.integerDigits} integer and ${acc.scale} fractional digits ` +
            `(record ${line}: "${v}"), more than DECIMAL(${PRECISION}) holds exactly; use --format ndjson or csv`,
        );
    }
  }
  return new Map([...shapes].map(([f, s]) => [f, s.scale]));
}

function schemaOf(scales: Map<string, number>) {
  return [
    { name: 'schema', num_children: USAGE_RECORD_FIELDS.length },
    ...USAGE_RECORD_FIELDS.map((name) => {
      if (DECIMALS.has(name)) {
        const scale = scales.get(name)!;
        return {
          name,
          type: 'FIXED_LEN_BYTE_ARRAY' as const,
          type_length: 16,
          repetition_type: 'OPTIONAL' as const,
          converted_type: 'DECIMAL' as const,
          scale,
          precision: PRECISION,
          logical_type: { type: 'DECIMAL' as const, scale, precision: PRECISION },
        };
      }
      if (TIMESTAMPS.has(name))
        return {
          name,
          type: 'INT64' as const,
          repetition_type: 'OPTIONAL' as const,
          converted_type: 'TIMESTAMP_MILLIS' as const,
          logical_type: { type: 'TIMESTAMP' as const, isAdjustedToUTC: true, unit: 'MILLIS' as const },
        };
      if (LONGS.has(name)) return { name, type: 'INT64' as const, repetition_type: 'OPTIONAL' as const };
      return {
        name,
        type: 'BYTE_ARRAY' as const,
        repetition_type: 'OPTIONAL' as const,
        converted_type: 'UTF8' as const,
        logical_type: { type: 'STRING' as const },
      };
    }),
  ];
}

/** One record's value as the Parquet column holds it (primitives only: see importEsm). */
function columnValue(name: string, v: unknown, scales: Map<string, number>): unknown {
  if (v === null || v === undefined) return null;
  if (DECIMALS.has(name)) return unscaled(v as string, scales.get(name)!);
  if (TIMESTAMPS.has(name)) return BigInt(Date.parse(v as string));
  if (LONGS.has(name)) return BigInt(v as number);
  if (MAPS.has(name)) return JSON.stringify(v);
  return v;
}

async function writeParquet(ndjson: string, file: string): Promise<void> {
  const scales = await decimalScales(ndjson);
  const { ParquetWriter, fileWriter } = await importEsm<HyparquetWriter>('hyparquet-writer');
  const schema = schemaOf(scales);
  const writer = new ParquetWriter({
    writer: fileWriter(file),
    schema,
    createdBy: 'meterflow rate',
    kvMetadata: [{ key: 'meterflow.schema', value: 'io.meterflow.usage.UsageRecord' }],
  });
  let columns: unknown[][] = USAGE_RECORD_FIELDS.map(() => []);
  const flush = async () => {
    if (columns[0].length === 0) return;
    await writer.write({
      columnData: USAGE_RECORD_FIELDS.map((name, i) => ({ name, data: columns[i] as never })),
      rowGroupSize: ROW_GROUP_ROWS,
    });
    columns = USAGE_RECORD_FIELDS.map(() => []);
  };
  for await (const r of records(ndjson)) {
    USAGE_RECORD_FIELDS.forEach((name, i) => columns[i].push(columnValue(name, r[name], scales)));
    if (columns[0].length >= ROW_GROUP_ROWS) await flush();
  }
  await flush();
  writer.finish();
}
