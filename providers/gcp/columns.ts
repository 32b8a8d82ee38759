import { isLosslessNumber } from 'lossless-json';
import { decimalCell } from '../../collectors/formats/cells';
import type { Header } from '../../collectors/formats/rows';
import { parseJsonCell } from '../../processors/normalize/values';
import type { Decimal } from '../../schemas/decimal';
import { ErrorCodes, InputError } from '../../runtime/errors';
import type { BilledCostRule, PeriodColumn } from '../provider';

export type GcpFormat = 'gcp-standard' | 'gcp-detailed';

/** `cost` is the cost before credits; the billed amount is cost + sum(credits.amount), see gcpBilledCost. */
export const BILLED_COST: Record<GcpFormat, readonly string[]> = {
  'gcp-standard': ['cost'],
  'gcp-detailed': ['cost'],
};
export const CURRENCY: Record<GcpFormat, readonly string[]> = {
  'gcp-standard': ['currency'],
  'gcp-detailed': ['currency'],
};

/** The invoice month (YYYYMM) is the billing period; the usage start stands in when it is absent. */
export const PERIOD_COLUMNS: readonly PeriodColumn[] = [
  { name: 'invoice.month', yyyymm: true },
  { name: 'usage_start_time' },
];

/**
 * GCP billed cost of one row: `cost` + sum of `credits[].amount` (credits are negative). `credits`
 * is the JSON text the JSON-lines reader keeps for the REPEATED field; amounts are read from their
 * source text, never through a JS number. Returns undefined when the row has no `cost`; throws
 * InputError(MALFORMED_INPUT) when cost or credits are present but unreadable.
 */
export function gcpBilledCost(columns: Record<string, string>): Decimal | undefined {
  const cost = columns.cost;
  if (cost === undefined) return undefined;
  let total = decimalCell('cost', cost);
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
    total = total.plus(decimalCell('credits.amount', text));
  }
  return total;
}

/** The billed-cost rule of every GCP format, for the collector's control totals. */
export const GCP_BILLED_COST_RULE: BilledCostRule = {
  compile(header: Header) {
    const costAt = header.indexOf('cost');
    const creditsAt = header.indexOf('credits');
    return (values) => {
      const cost = costAt < 0 ? '' : (values[costAt] ?? '');
      if (cost === '') return undefined;
      const credits = creditsAt < 0 ? '' : (values[creditsAt] ?? '');
      return gcpBilledCost(credits === '' ? { cost } : { cost, credits });
    };
  },
  ofColumns: gcpBilledCost,
};
