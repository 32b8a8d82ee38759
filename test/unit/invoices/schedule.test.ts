import type { Client } from '@elastic/elasticsearch';
import { indexNames } from '../../../sinks/elasticsearch/indices';
import { DEFAULT_INVOICE_OPTIONS, runInvoiceSchedule, shiftPeriod } from '../../../invoices';
import { BOOK } from './fixtures';

describe('runInvoiceSchedule', () => {
  it('reports a failing tick, keeps the loop alive, and stops on abort', async () => {
    const controller = new AbortController();
    const errors: unknown[] = [];
    let books = 0;
    await runInvoiceSchedule({
      es: {} as Client, // every call fails: no indices API
      names: indexNames('t'),
      loadBook: () => {
        books++;
        return BOOK;
      },
      options: { ...DEFAULT_INVOICE_OPTIONS, schedule_interval_ms: 1 },
      signal: controller.signal,
      now: () => new Date('2026-03-10T00:00:00Z'),
      onError: (err) => {
        errors.push(err);
        if (errors.length === 2) controller.abort();
      },
    });
    expect(errors).toHaveLength(2);
    expect(books).toBe(2); // the book is reloaded for every tick
  });

  it('does nothing once aborted', async () => {
    const controller = new AbortController();
    controller.abort();
    let books = 0;
    await runInvoiceSchedule({
      es: {} as Client,
      names: indexNames('t'),
      loadBook: () => {
        books++;
        return BOOK;
      },
      options: DEFAULT_INVOICE_OPTIONS,
      signal: controller.signal,
    });
    expect(books).toBe(0);
  });

  it('steps billing periods across years', () => {
    expect(shiftPeriod('2026-01', -1)).toBe('2025-12');
    expect(shiftPeriod('2025-12', 1)).toBe('2026-01');
  });
});
