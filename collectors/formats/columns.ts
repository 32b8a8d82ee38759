import { isLosslessNumber } from 'lossless-json';
import { parseJsonCell } from '../../processors/normalize/values';
import type { Header } from './rows';
import { Decimal, parseDecimal } from '../../schemas/decimal';
import { ErrorCodes, InputError } from '../../runtime/errors';

export type ExportFormat =
  | 'aws-cur-legacy'
  | 'aws-cur2'
  | 'aws-focus'
  | 'azure-actual'
  | 'azure-amortized'
  | 'azure-focus'
  | 'gcp-standard'
  | 'gcp-detailed'
  | 'focus';

/**
 * Candidate names of the billed-cost column per format, in order of preference, matched
 * case-insensitively (Azure EA writes PascalCase, MCA camelCase, some files all lower case).
 *
 * - AWS legacy CUR: `lineItem/UnblendedCost`, or its snake_case name in Athena-style files. Not
 *   NetUnblendedCost: that column exists only with EDP / private pricing, and a control total must
 *   use one column for the whole revision.
 * - Azure Actual / Amortized: `CostInBillingCurrency` (2021-10-01-style EA and, as
 *   `costInBillingCurrency`, MCA), then `Cost` (toolkit EA samples and the c360-2025-04 dataset
 *   version), then `PreTaxCost` (legacy usage schema). No file carries two of these, so the order
 *   only matters for which name is reported.
 * - GCP: `cost` is the cost before credits; the billed amount is cost + sum(credits.amount), see
 *   gcpBilledCost.
 */
const BILLED_COST: Record<ExportFormat, string[]> = {
  'aws-cur-legacy': ['lineItem/UnblendedCost', 'line_item_unblended_cost'],
  'aws-cur2': ['line_item_unblended_cost'],
  'aws-focus': ['BilledCost'],
  'azure-focus': ['BilledCost'],
  focus: ['BilledCost'],
  'azure-actual': ['CostInBillingCurrency', 'Cost', 'PreTaxCost'],
  'azure-amortized': ['CostInBillingCurrency', 'Cost', 'PreTaxCost'],
  'gcp-standard': ['cost'],
  'gcp-detailed': ['cost'],
};

const CURRENCY: Record<ExportFormat, string[]> = {
  'aws-cur-legacy': ['lineItem/CurrencyCode', 'line_item_currency_code'],
  'aws-cur2': ['line_item_currency_code'],
  'aws-focus': ['BillingCurrency'],
  'azure-focus': ['BillingCurrency'],
  focus: ['BillingCurrency'],
  // EA 2021-10-01 BillingCurrencyCode, toolkit EA / MCA BillingCurrency / billingCurrency, legacy Currency.
  'azure-actual': ['BillingCurrencyCode', 'BillingCurrency', 'Currency'],
  'azure-amortized': ['BillingCurrencyCode', 'BillingCurrency', 'Currency'],
  'gcp-standard': ['currency'],
  'gcp-detailed': ['currency'],
};

/** The billed-cost column a revision of `format` is expected to carry (the first candidate). */
export function defaultBilledCostColumn(format: ExportFormat): string {
  return BILLED_COST[format][0];
}

function findColumn(candidates: string[], names: Iterable<string>): string | undefined {
  const byLower = new Map<string, string>();
  for (const n of names) {
    const l = n.toLowerCase();
    if (!byLower.has(l)) byLower.set(l, n);
  }
  for (const c of candidates) {
    const hit = byLower.get(c.toLowerCase());
    if (hit !== undefined) return hit;
  }
  return undefined;
}

/** The exact header name holding the billed cost in a file with these column names. */
export function resolveBilledCostColumn(format: ExportFormat, header: Iterable<string>): string | undefined {
  return findColumn(BILLED_COST[format], header);
}

/** The exact header name holding the billing currency in a file with these column names. */
export function resolveCurrencyColumn(format: ExportFormat, header: Iterable<string>): string | undefined {
  return findColumn(CURRENCY[format], header);
}

function valueOf(candidates: string[], columns: Record<string, string>): [string, string] | undefined {
  for (const c of candidates) if (columns[c] !== undefined) return [c, columns[c]];
  const name = findColumn(candidates, Object.keys(columns));
  return name === undefined ? undefined : [name, columns[name]];
}

function decimalField(name: string, text: string): Decimal {
  const d = parseDecimal(text);
  if (d === undefined) {
    throw new InputError(ErrorCodes.MALFORMED_INPUT, `not a decimal number: ${JSON.stringify(text)}`, {
      field: name,
    });
  }
  return d;
}

/**
 * GCP billed cost of one row: `cost` + sum of `credits[].amount` (credits are negative). `credits`
 * is the JSON text the JSON-lines reader keeps for the REPEATED field; amounts are read from their
 * source text, never through a JS number. Returns undefined when the row has no `cost`; throws
 * InputError(MALFORMED_INPUT) when cost or credits are present but unreadable.
 */
export function gcpBilledCost(columns: Record<string, string>): Decimal | undefined {
  const cost = columns.cost;
  if (cost === undefined) return undefined;
  let total = decimalField('cost', cost);
  const credits = columns.credits;
  if (credits === undefined) return total;
  let parsed: unknown;
  try {
    // The same reading as normalize's (JSON, else koku's Python repr `[{'name': ...}]`), so the
    // control total and BilledCost can never disagree about which rows have readable credits.
    parsed = parseJsonCell({ key: 'credits', value: credits });
  } catch (err) {
    throw new InputError(ErrorCodes.MALFORMED_INPUT, 'credits is not JSON', { field: 'credits' }, err);
  }
  if (!Array.isArray(parsed)) {
    throw new InputError(ErrorCodes.MALFORMED_INPUT, 'credits is not a JSON array', { field: 'credits' });
  }
  for (const c of parsed) {
    const amount = (c as { amount?: unknown } | null)?.amount;
    if (amount === undefined || amount === null) continue;
    const text = isLosslessNumber(amount) ? amount.value : typeof amount === 'string' ? amount : undefined;
    if (text === undefined) {
      throw new InputError(ErrorCodes.MALFORMED_INPUT, 'credit amount is not a number', { field: 'credits' });
    }
    total = total.plus(decimalField('credits.amount', text));
  }
  return total;
}

/**
 * Billed cost of one row for control totals. Undefined when the row has no billed-cost value (empty
 * is null); throws InputError(MALFORMED_INPUT) naming the field when the value is not a decimal, so
 * a garbled amount is never counted as null.
 */
export function billedCostOf(format: ExportFormat, columns: Record<string, string>): Decimal | undefined {
  if (format === 'gcp-standard' || format === 'gcp-detailed') return gcpBilledCost(columns);
  const hit = valueOf(BILLED_COST[format], columns);
  return hit === undefined ? undefined : decimalField(hit[0], hit[1]);
}

/** Billing currency of one row (ISO 4217 code as written), or undefined. */
export function currencyOf(format: ExportFormat, columns: Record<string, string>): string | undefined {
  return valueOf(CURRENCY[format], columns)?.[1];
}

/** The control-total columns of one header, resolved once (collectors/formats/rows.ts). */
export interface ControlColumns {
  /** Billed cost of a row (exact); undefined when empty; throws InputError naming the field. */
  billedCost(values: readonly string[]): Decimal | undefined;
  /** Billing currency of a row as written, or undefined. */
  currency(values: readonly string[]): string | undefined;
}

/** Header positions of the candidate names: exact matches first, then case-insensitive ones. */
function positionsOf(candidates: string[], header: Header): number[] {
  const out: number[] = [];
  for (const c of candidates) {
    header.forEach((h, i) => {
      if (h === c && !out.includes(i)) out.push(i);
    });
    const lower = c.toLowerCase();
    header.forEach((h, i) => {
      if (h.toLowerCase() === lower && !out.includes(i)) out.push(i);
    });
  }
  return out;
}

function firstValue(positions: number[], values: readonly string[]): number {
  for (const p of positions) if (values[p] !== undefined && values[p] !== '') return p;
  return -1;
}

/**
 * The billed-cost and currency rule of `format` compiled for one header: the same rule as
 * billedCostOf / currencyOf, with the columns found once per header instead of once per row.
 */
export function compileControlColumns(format: ExportFormat, header: Header): ControlColumns {
  const currencyAt = positionsOf(CURRENCY[format], header);
  const currency = (values: readonly string[]): string | undefined => {
    const p = firstValue(currencyAt, values);
    return p < 0 ? undefined : values[p];
  };
  if (format === 'gcp-standard' || format === 'gcp-detailed') {
    const costAt = header.indexOf('cost');
    const creditsAt = header.indexOf('credits');
    return {
      billedCost: (values) => {
        const cost = costAt < 0 ? '' : (values[costAt] ?? '');
        if (cost === '') return undefined;
        const credits = creditsAt < 0 ? '' : (values[creditsAt] ?? '');
        return gcpBilledCost(credits === '' ? { cost } : { cost, credits });
      },
      currency,
    };
  }
  const costAt = positionsOf(BILLED_COST[format], header);
  return {
    billedCost: (values) => {
      const p = firstValue(costAt, values);
      return p < 0 ? undefined : decimalField(header[p], values[p]);
    },
    currency,
  };
}
