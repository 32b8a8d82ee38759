import type { Client } from '@elastic/elasticsearch';
import type { IndexNames } from '../sinks/elasticsearch/indices';
import type { PriceBook } from '../processors/price/price-book';
import { ErrorCodes, InputError, PermanentError } from '../runtime/errors';
import type { InvoiceOptions } from './config';
import { finalizeInvoices } from './finalize';
import { generateInvoices } from './generate';
import { isPeriod } from './period';
import type { InvoiceResult } from './result';

/** One line per invoice: id, status, number, total currency, line count, outcome (and error). */
export function formatInvoiceResult(r: InvoiceResult): string {
  const inv = r.invoice;
  const parts = [
    r.invoice_id,
    inv?.status ?? '-',
    inv?.number ?? '-',
    inv ? `${inv.total} ${inv.currency}` : '-',
    inv ? `${inv.lines.length} lines` : '-',
    r.outcome,
  ];
  return r.error ? `${parts.join('  ')}  ${r.error}` : parts.join('  ');
}

/**
 * `meterflow invoice generate|finalize --period YYYY-MM [--customer C]`. Prints one line per
 * invoice; throws (after printing) when an invoice could not be computed or finalized, so the
 * command exits non-zero.
 */
export async function runInvoiceCommand(args: {
  es: Client;
  names: IndexNames;
  book: PriceBook;
  options: InvoiceOptions;
  action: 'generate' | 'finalize';
  period: string;
  customer?: string;
  out: (line: string) => void;
  now?: Date;
  /** finalize only: finalize an incomplete period anyway (completeness.ts), recorded on the invoices. */
  forceIncomplete?: { reason: string; by: string };
  /** Called with every result before a failure is thrown: what was written is audited and announced. */
  onResults?: (results: InvoiceResult[]) => Promise<void>;
}): Promise<InvoiceResult[]> {
  if (!isPeriod(args.period))
    throw new InputError(
      ErrorCodes.MALFORMED_INPUT,
      `billing period "${args.period}" is not valid: expected YYYY-MM (for example 2026-03)`,
      { field: 'period' },
    );
  if (args.customer !== undefined && args.customer.trim() === '')
    throw new InputError(ErrorCodes.MALFORMED_INPUT, 'customer must not be empty', { field: 'customer' });
  if (args.forceIncomplete !== undefined && args.forceIncomplete.reason.trim() === '')
    throw new InputError(ErrorCodes.MALFORMED_INPUT, '--force-incomplete needs a --reason "<why>"', {
      field: 'reason',
    });
  const common = {
    es: args.es,
    names: args.names,
    period: args.period,
    customer: args.customer,
    now: args.now,
  };
  const results =
    args.action === 'generate'
      ? await generateInvoices({ ...common, book: args.book, options: args.options })
      : await finalizeInvoices({ ...common, forceIncomplete: args.forceIncomplete });
  if (results.length === 0) args.out(`no invoices for ${args.period}`);
  for (const r of results) args.out(formatInvoiceResult(r));
  await args.onResults?.(results);
  const failed = results.filter((r) => r.error !== null);
  if (failed.length)
    throw new PermanentError(
      ErrorCodes.MALFORMED_INPUT,
      `${failed.length} invoice(s) of ${args.period} failed: ${failed.map((r) => r.invoice_id).join(', ')}`,
    );
  return results;
}
