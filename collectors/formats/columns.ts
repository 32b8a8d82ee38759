import { formatDefinition, type ExportFormat } from '../../providers/registry';
import type { Decimal } from '../../schemas/decimal';
import { decimalCell } from './cells';
import type { Header } from './rows';

/**
 * The control-total columns of a revision: which column holds a row's billed cost and its
 * currency, per export format. The candidate names are the provider's (providers/<name>/columns.ts);
 * this file only applies them: exact names first, then case-insensitive ones.
 */

/** The billed-cost column a revision of `format` is expected to carry (the first candidate). */
export function defaultBilledCostColumn(format: ExportFormat): string {
  return formatDefinition(format).billedCostColumns[0];
}

function findColumn(candidates: readonly string[], names: Iterable<string>): string | undefined {
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
  return findColumn(formatDefinition(format).billedCostColumns, header);
}

/** The exact header name holding the billing currency in a file with these column names. */
export function resolveCurrencyColumn(format: ExportFormat, header: Iterable<string>): string | undefined {
  return findColumn(formatDefinition(format).currencyColumns, header);
}

function valueOf(
  candidates: readonly string[],
  columns: Record<string, string>,
): [string, string] | undefined {
  for (const c of candidates) if (columns[c] !== undefined) return [c, columns[c]];
  const name = findColumn(candidates, Object.keys(columns));
  return name === undefined ? undefined : [name, columns[name]];
}

/**
 * Billed cost of one row for control totals. Undefined when the row has no billed-cost value (empty
 * is null); throws InputError(MALFORMED_INPUT) naming the field when the value is not a decimal, so
 * a garbled amount is never counted as null.
 */
export function billedCostOf(format: ExportFormat, columns: Record<string, string>): Decimal | undefined {
  const def = formatDefinition(format);
  if (def.billedCostRule) return def.billedCostRule.ofColumns(columns);
  const hit = valueOf(def.billedCostColumns, columns);
  return hit === undefined ? undefined : decimalCell(hit[0], hit[1]);
}

/** Billing currency of one row (ISO 4217 code as written), or undefined. */
export function currencyOf(format: ExportFormat, columns: Record<string, string>): string | undefined {
  return valueOf(formatDefinition(format).currencyColumns, columns)?.[1];
}

/** The control-total columns of one header, resolved once (collectors/formats/rows.ts). */
export interface ControlColumns {
  /** Billed cost of a row (exact); undefined when empty; throws InputError naming the field. */
  billedCost(values: readonly string[]): Decimal | undefined;
  /** Billing currency of a row as written, or undefined. */
  currency(values: readonly string[]): string | undefined;
}

/** Header positions of the candidate names: exact matches first, then case-insensitive ones. */
function positionsOf(candidates: readonly string[], header: Header): number[] {
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
  const def = formatDefinition(format);
  const currencyAt = positionsOf(def.currencyColumns, header);
  const currency = (values: readonly string[]): string | undefined => {
    const p = firstValue(currencyAt, values);
    return p < 0 ? undefined : values[p];
  };
  if (def.billedCostRule) return { billedCost: def.billedCostRule.compile(header), currency };
  const costAt = positionsOf(def.billedCostColumns, header);
  return {
    billedCost: (values) => {
      const p = firstValue(costAt, values);
      return p < 0 ? undefined : decimalCell(header[p], values[p]);
    },
    currency,
  };
}
