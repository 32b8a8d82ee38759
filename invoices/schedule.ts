import type { Client } from '@elastic/elasticsearch';
import type { IndexNames } from '../sinks/elasticsearch/indices';
import type { PriceBook } from '../processors/price/price-book';
import type { InvoiceOptions } from './config';
import { IncompletePeriodError } from './completeness';
import { finalizeInvoices } from './finalize';
import { generateInvoices } from './generate';
import { periodOf, periodStartMs, shiftPeriod } from './period';
import type { InvoiceResult } from './result';

const DAY_MS = 86_400_000;

export interface ScheduleTickResult {
  current: string;
  previous: string;
  generated: InvoiceResult[];
  finalized: InvoiceResult[];
  /** Why the previous month was not finalized although it was due (an incomplete period), if so. */
  finalizeRefused: string | null;
}

/**
 * One run of the schedule at `now`, in this order:
 *   1. regenerate the previous month's drafts (late usage of the month lands here first);
 *   2. finalize the previous month when finalize_after_days (> 0) days have passed since it ended
 *      (finalize refuses stale drafts, and step 1 just refreshed them);
 *   3. regenerate the current month's drafts, after 2, so adjustments already carried by the
 *      now-finalized previous invoice are not repeated and its credit burn is counted.
 * Finalized invoices are never rewritten, so running a tick twice is harmless.
 */
export async function invoiceScheduleTick(args: {
  es: Client;
  names: IndexNames;
  book: PriceBook;
  options: InvoiceOptions;
  now: Date;
}): Promise<ScheduleTickResult> {
  const { es, names, book, options, now } = args;
  const current = periodOf(now);
  const previous = shiftPeriod(current, -1);
  const generated = await generateInvoices({ es, names, book, options, period: previous, now });
  let finalized: InvoiceResult[] = [];
  let finalizeRefused: string | null = null;
  const due = periodStartMs(current) + options.finalize_after_days * DAY_MS;
  if (options.finalize_after_days > 0 && now.getTime() >= due) {
    try {
      finalized = (await finalizeInvoices({ es, names, period: previous, now })).filter(
        (r) => r.outcome !== 'already_finalized',
      );
    } catch (err) {
      // The scheduler never forces: an incomplete period waits for a later tick (or a person).
      if (!(err instanceof IncompletePeriodError)) throw err;
      finalizeRefused = err.message;
    }
  }
  generated.push(...(await generateInvoices({ es, names, book, options, period: current, now })));
  return { current, previous, generated, finalized, finalizeRefused };
}

/**
 * Scheduled mode: a tick right away, then every schedule_interval_ms until `signal` aborts. The book
 * is reloaded for every tick (a new price book applies to drafts from the next tick on). A failing
 * tick is reported through onError and the schedule carries on.
 */
export async function runInvoiceSchedule(args: {
  es: Client;
  names: IndexNames;
  loadBook: () => PriceBook;
  options: InvoiceOptions;
  signal: AbortSignal;
  now?: () => Date;
  onTick?: (result: ScheduleTickResult) => void | Promise<void>;
  onError?: (err: unknown) => void;
}): Promise<void> {
  const clock = args.now ?? (() => new Date());
  while (!args.signal.aborted) {
    try {
      const result = await invoiceScheduleTick({
        es: args.es,
        names: args.names,
        book: args.loadBook(),
        options: args.options,
        now: clock(),
      });
      await args.onTick?.(result);
    } catch (err) {
      args.onError?.(err);
    }
    await sleep(args.options.schedule_interval_ms, args.signal);
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
