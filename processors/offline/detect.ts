import type { ObjectStore } from '../../collectors/core/object-store';
import { openLines, parserFor } from '../../collectors/core/read-lines';
import { readCsvHeader } from '../../collectors/formats/csv-rows';
import type { Header } from '../../collectors/formats/rows';
import { openDecoded } from '../../collectors/formats/decode';
import { readJsonlRows } from '../../collectors/formats/jsonl-rows';
import { ErrorCodes, InputError } from '../../runtime/errors';
import { parseTimestampMs } from '../normalize/values';
import type { ExportFormatDefinition, PeriodColumn, ProviderDefinition } from '../../providers/provider';
import {
  FOCUS_PROVIDER,
  PROVIDERS,
  providerNamed,
  type ExportFormat,
  type ProviderName,
} from '../../providers/registry';

export type OfflineProvider = ProviderName;

/**
 * Column names of one export object: the CSV header (after BOM stripping and duplicate suffixes,
 * as readCsvRows names them), or the flattened keys of the first JSON-lines, Parquet or Avro row.
 * Reads only the head of the object (a Parquet file: its footer and first row group).
 */
export async function readColumnNames(store: ObjectStore, key: string): Promise<string[]> {
  const kind = parserFor(key);
  const object = store.url(key);
  if (kind === 'parquet' || kind === 'avro') {
    // The flattened column names of the first row, as the collector's readers give them.
    for await (const line of await openLines(store, key)) if (line.kind === 'row') return [...line.header];
    return [];
  }
  const bytes = await openDecoded(await store.open(key), object);
  if (kind === 'csv') return readCsvHeader(bytes, { object });
  for await (const line of readJsonlRows(bytes, { object })) {
    // Leaving the loop early releases the file.
    if (line.kind === 'row') return Object.keys(line.columns);
  }
  return [];
}

const lowerSet = (names: readonly string[]): Set<string> =>
  new Set(
    names.map((n) =>
      n
        .replace(/^\uFEFF/, '')
        .trim()
        .toLowerCase(),
    ),
  );

/**
 * The export format of a single file, from its column names (there is no manifest to say it). A
 * file with BilledCost is FOCUS, under the requested provider's FOCUS format (aws-focus,
 * azure-focus, else focus); otherwise each provider of the registry is asked in turn
 * (ProviderDefinition.detect). A file of another provider than `provider` is refused with what it
 * looks like.
 */
export function detectFormat(provider: OfflineProvider, columns: string[], fileName: string): ExportFormat {
  const requested = providerNamed(provider);
  const lower = lowerSet(columns);
  if (lower.has('billedcost')) return requested.focusFormat as ExportFormat;
  for (const candidate of PROVIDERS) {
    const format = (candidate as ProviderDefinition).detect?.(columns, lower, fileName);
    if (format === undefined) continue;
    if (candidate.name !== provider) {
      throw new InputError(
        ErrorCodes.MALFORMED_INPUT,
        `looks like ${candidate.article} export (${format}), not --provider ${provider}`,
        { object: fileName },
      );
    }
    return format as ExportFormat;
  }
  const shown = columns.slice(0, 8).join(', ') + (columns.length > 8 ? ', ...' : '');
  const costColumns = [
    ...new Set(
      PROVIDERS.flatMap((p) =>
        Object.values(p.formats as Record<string, ExportFormatDefinition>).map((f) => f.billedCostColumns[0]),
      ),
    ),
  ];
  throw new InputError(
    ErrorCodes.MALFORMED_INPUT,
    `not a recognised billing export: no billed-cost column (${costColumns.join(', ')}) among its ` +
      `${columns.length} columns (${shown})`,
    { object: fileName },
  );
}

/** The provider whose format `format` is. */
function providerOf(format: ExportFormat): ProviderDefinition {
  return PROVIDERS.find((p) => format in p.formats) as ProviderDefinition;
}

/**
 * For a file without a manifest: a function giving the billing period (YYYY-MM) of one row from its
 * own columns (billing-period start, else the charge / usage start, as the provider's
 * periodColumns say), or undefined when the row carries none. Column names are resolved once from
 * the header.
 */
export function rowPeriodReader(
  format: ExportFormat,
  columns: string[],
): (header: Header, values: readonly string[]) => string | undefined {
  // FOCUS formats of a provider (aws-focus) carry FOCUS's period columns, not the provider's own.
  const owner = format === providerOf(format).focusFormat ? FOCUS_PROVIDER : providerOf(format);
  const periodColumns = owner.periodColumns(columns);
  const names = periodColumns.map((c) => c.name);
  // Positions are resolved once per header; the last text -> period is remembered, since a file's
  // rows repeat the same billing-period start.
  let lastHeader: Header | undefined;
  let positions: number[] = [];
  let lastText: string | undefined;
  let lastPeriod: string | undefined;
  const periodOf = (column: PeriodColumn, v: string): string | undefined => {
    if (column.yyyymm) {
      const m = YYYYMM.exec(v.trim());
      return m ? `${m[1]}-${m[2]}` : undefined;
    }
    const ms = parseTimestampMs(v);
    return ms === undefined ? undefined : new Date(ms).toISOString().slice(0, 7);
  };
  return (header, values) => {
    if (header !== lastHeader) {
      lastHeader = header;
      positions = names.map((n) => header.indexOf(n));
    }
    for (let i = 0; i < names.length; i++) {
      const v = positions[i] < 0 ? undefined : values[positions[i]];
      if (v === undefined || v === '') continue;
      if (v === lastText && lastPeriod !== undefined) return lastPeriod;
      const period = periodOf(periodColumns[i], v);
      if (period === undefined) continue;
      lastText = v;
      lastPeriod = period;
      return period;
    }
    return undefined;
  };
}

const YYYYMM = /^(\d{4})(0[1-9]|1[0-2])$/;
