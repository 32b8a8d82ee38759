import type { ObjectStore } from '../../collectors/core/object-store';
import { parserFor } from '../../collectors/core/read-lines';
import type { ExportFormat } from '../../collectors/formats/columns';
import { readCsvHeader } from '../../collectors/formats/csv-rows';
import type { Header } from '../../collectors/formats/rows';
import { openDecoded } from '../../collectors/formats/decode';
import { readJsonlRows } from '../../collectors/formats/jsonl-rows';
import { ErrorCodes, InputError } from '../../runtime/errors';
import { azureKey, parseTimestampMs } from '../normalize';

export type OfflineProvider = 'aws' | 'gcp' | 'azure' | 'focus';

/**
 * Column names of one export object: the CSV header (after BOM stripping and duplicate suffixes,
 * as readCsvRows names them), or the flattened keys of the first JSON-lines row. Reads only the
 * head of the object.
 */
export async function readColumnNames(store: ObjectStore, key: string): Promise<string[]> {
  const kind = parserFor(key);
  const object = store.url(key);
  const bytes = await openDecoded(await store.open(key), object);
  if (kind === 'csv') return readCsvHeader(bytes, { object });
  for await (const line of readJsonlRows(bytes, { object })) {
    // Leaving the loop early releases the file.
    if (line.kind === 'row') return Object.keys(line.columns);
  }
  return [];
}

const FAMILY_NAMES = { aws: 'an AWS', gcp: 'a Google Cloud', azure: 'an Azure', focus: 'a FOCUS' } as const;

const lowerSet = (names: string[]): Set<string> =>
  new Set(
    names.map((n) =>
      n
        .replace(/^\uFEFF/, '')
        .trim()
        .toLowerCase(),
    ),
  );

/** Map columns of CUR 2.0 (Data Exports) that the Athena-style legacy CUR flattens into many columns. */
const CUR2_MAP_COLUMNS = ['product', 'resource_tags', 'cost_category', 'discount'];
const AZURE_COST_KEYS = new Set(['costinbillingcurrency', 'cost', 'pretaxcost']);

/**
 * The export format of a single file, from its column names (there is no manifest to say it):
 *
 *   BilledCost                                   FOCUS: aws-focus / azure-focus / focus (gcp, focus)
 *   lineItem/UnblendedCost                       aws-cur-legacy
 *   line_item_unblended_cost + a map column      aws-cur2 (product, resource_tags, cost_category, discount)
 *   line_item_unblended_cost otherwise           aws-cur-legacy (Athena / Parquet style names)
 *   cost + usage_start_time / billing_account_id gcp-detailed when resource.* columns exist, else gcp-standard
 *   CostInBillingCurrency / Cost / PreTaxCost    azure-amortized when the file name says "amortized",
 *                                                else azure-actual (both datasets share one header)
 *
 * A file of another provider than `provider` is refused with what it looks like.
 */
export function detectFormat(provider: OfflineProvider, columns: string[], fileName: string): ExportFormat {
  const lower = lowerSet(columns);
  let family: 'focus' | 'aws' | 'gcp' | 'azure' | undefined;
  let format: ExportFormat | undefined;
  if (lower.has('billedcost')) {
    family = 'focus';
    format = provider === 'aws' ? 'aws-focus' : provider === 'azure' ? 'azure-focus' : 'focus';
  } else if (lower.has('lineitem/unblendedcost')) {
    family = 'aws';
    format = 'aws-cur-legacy';
  } else if (lower.has('line_item_unblended_cost')) {
    family = 'aws';
    format = CUR2_MAP_COLUMNS.some((c) => lower.has(c)) ? 'aws-cur2' : 'aws-cur-legacy';
  } else if (lower.has('cost') && (lower.has('usage_start_time') || lower.has('billing_account_id'))) {
    family = 'gcp';
    format = [...lower].some((c) => c.startsWith('resource.')) ? 'gcp-detailed' : 'gcp-standard';
  } else if (columns.some((c) => AZURE_COST_KEYS.has(azureKey(c)))) {
    family = 'azure';
    format = /amorti[sz]ed/i.test(fileName) ? 'azure-amortized' : 'azure-actual';
  }
  if (family === undefined || format === undefined) {
    const shown = columns.slice(0, 8).join(', ') + (columns.length > 8 ? ', ...' : '');
    throw new InputError(
      ErrorCodes.MALFORMED_INPUT,
      `not a recognised billing export: no billed-cost column (BilledCost, lineItem/UnblendedCost, ` +
        `line_item_unblended_cost, cost, CostInBillingCurrency) among its ${columns.length} columns (${shown})`,
      { object: fileName },
    );
  }
  if (family !== 'focus' && family !== provider) {
    throw new InputError(
      ErrorCodes.MALFORMED_INPUT,
      `looks like ${FAMILY_NAMES[family]} export (${format}), not --provider ${provider}`,
      { object: fileName },
    );
  }
  return format;
}

const PERIOD_CANDIDATES: Record<'aws' | 'focus' | 'gcp', string[]> = {
  aws: [
    'bill/BillingPeriodStartDate',
    'bill_billing_period_start_date',
    'lineItem/UsageStartDate',
    'line_item_usage_start_date',
  ],
  focus: ['BillingPeriodStart', 'ChargePeriodStart'],
  gcp: ['invoice.month', 'usage_start_time'],
};
const AZURE_PERIOD_KEYS = [
  'billingperiodstartdate',
  'billingperiodstart',
  'date',
  'usagedatetime',
  'usagedate',
];

function familyOf(format: ExportFormat): 'aws' | 'focus' | 'gcp' | 'azure' {
  if (format === 'aws-cur-legacy' || format === 'aws-cur2') return 'aws';
  if (format === 'gcp-standard' || format === 'gcp-detailed') return 'gcp';
  if (format === 'azure-actual' || format === 'azure-amortized') return 'azure';
  return 'focus';
}

/**
 * For a file without a manifest: a function giving the billing period (YYYY-MM) of one row from its
 * own columns (billing-period start, else the charge / usage start; GCP invoice.month), or
 * undefined when the row carries none. Column names are resolved once from the header.
 */
export function rowPeriodReader(
  format: ExportFormat,
  columns: string[],
): (header: Header, values: readonly string[]) => string | undefined {
  const family = familyOf(format);
  let names: string[];
  if (family === 'azure') {
    names = AZURE_PERIOD_KEYS.flatMap((k) => columns.filter((c) => azureKey(c) === k));
  } else {
    const byLower = new Map(columns.map((c) => [c.toLowerCase(), c]));
    // JSON lines omit null fields, so the first row may lack a column: keep the canonical names too.
    names = PERIOD_CANDIDATES[family].flatMap((c) => [byLower.get(c.toLowerCase()) ?? c]);
  }
  // Positions are resolved once per header; the last text -> period is remembered, since a file's
  // rows repeat the same billing-period start.
  let lastHeader: Header | undefined;
  let positions: number[] = [];
  let lastText: string | undefined;
  let lastPeriod: string | undefined;
  const periodOf = (name: string, v: string): string | undefined => {
    if (name === 'invoice.month') {
      const m = INVOICE_MONTH.exec(v.trim());
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
      const period = periodOf(names[i], v);
      if (period === undefined) continue;
      lastText = v;
      lastPeriod = period;
      return period;
    }
    return undefined;
  };
}

const INVOICE_MONTH = /^(\d{4})(0[1-9]|1[0-2])$/;
