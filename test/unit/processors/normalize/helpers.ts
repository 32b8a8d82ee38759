import { Decimal, decimalToString, parseDecimal } from '../../../../schemas/decimal';
import type { RawUsageRow, UsageRecord } from '../../../../schemas/types.generated';
import {
  normalizeRow,
  parseNormalizeOptions,
  type NormalizeOptionsInput,
  type NormalizeResult,
} from '../../../../processors/normalize';
import { fixture, readCsvFileWithLines } from '../../../support/fixtures';

export interface SourceRow {
  line: number;
  /** All columns, including empty ones (as read) */
  all: Record<string, string>;
}

/** Parse a CSV fixture (path below test/fixtures): header line 1, BOM stripped, short rows allowed. */
export function readCsv(relPath: string): SourceRow[] {
  return readCsvFileWithLines(fixture(relPath)).map((r) => ({ line: r.line, all: r.record }));
}

/** RawUsageRow as the collector produces it: empty values omitted. */
export function toRaw(
  src: SourceRow,
  meta: { provider: string; format: string; billing_period: string; object?: string },
): RawUsageRow {
  const columns: Record<string, string> = {};
  for (const [k, v] of Object.entries(src.all)) if (v !== undefined && v !== '') columns[k] = v;
  return {
    provider: meta.provider,
    format: meta.format,
    scope: `${meta.provider}/test/${meta.billing_period}`,
    revision_id: 'rev-1',
    billing_period: meta.billing_period,
    object: meta.object ?? `file:///fixtures/${meta.format}.csv`,
    line: src.line,
    columns,
  };
}

export function rawRows(
  relPath: string,
  meta: { provider: string; format: string; billing_period: string },
): RawUsageRow[] {
  return readCsv(relPath).map((s) => toRaw(s, { ...meta, object: `file:///fixtures/${relPath}` }));
}

export function run(row: RawUsageRow, options: NormalizeOptionsInput = {}): NormalizeResult {
  return normalizeRow(row, parseNormalizeOptions(options));
}

export function ok(row: RawUsageRow, options: NormalizeOptionsInput = {}): UsageRecord {
  const r = run(row, options);
  if (!r.ok) throw new Error(`expected ok, got ${r.reason} ${r.field ?? ''}: ${r.message}`);
  return r.record;
}

export function dec(text: string | undefined | null): Decimal {
  if (text === undefined || text === null || text.trim() === '') return new Decimal(0);
  const d = parseDecimal(text);
  if (d === undefined) throw new Error(`not a decimal: ${text}`);
  return d;
}

/** Exact sum of decimal text, as canonical text. */
export function sumText(values: Array<string | null | undefined>): string {
  return decimalToString(values.reduce<Decimal>((acc, v) => acc.plus(dec(v)), new Decimal(0)));
}

/** Exact sums grouped by key, as canonical text. */
export function sumBy<T>(items: T[], key: (t: T) => string, value: (t: T) => string | null | undefined) {
  const out: Record<string, Decimal> = {};
  for (const it of items) {
    const k = key(it);
    out[k] = (out[k] ?? new Decimal(0)).plus(dec(value(it)));
  }
  return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, decimalToString(v)]));
}

export function withColumns(
  row: RawUsageRow,
  changes: Record<string, string | undefined>,
  line?: number,
): RawUsageRow {
  const columns = { ...row.columns };
  for (const [k, v] of Object.entries(changes)) {
    if (v === undefined) delete columns[k];
    else columns[k] = v;
  }
  return { ...row, columns, line: line ?? row.line };
}
