import type { Client } from '@elastic/elasticsearch';
import type { IndexNames } from '../sinks/elasticsearch/indices';
import { ErrorCodes, PermanentError } from '../runtime/errors';
import { invoiceCounterIndex, isConflict } from './store';

/**
 * Invoice numbers: MF-<YYYY>-<000001>, a sequence per year of finalization, kept in one counter
 * document per year in P-invoices-counters. Taking a number is a read then a conditional write
 * (op_type create for the first, if_seq_no/if_primary_term after), retried on 409, so two
 * finalizers never share a number.
 */

/** Next invoice number of `year`: MF-<YYYY>-<6 digits>, from a counter document. */
export async function nextInvoiceNumber(es: Client, names: IndexNames, year: string): Promise<string> {
  return nextDocumentNumber(es, names, 'MF', year);
}

/**
 * Next number of a series and year: invoices MF-<YYYY>-<n> (counter document `<YYYY>`), credit notes
 * in their own sequence CN-<YYYY>-<n> (counter document `CN-<YYYY>`), so each series has no gaps.
 */
export async function nextDocumentNumber(
  es: Client,
  names: IndexNames,
  series: 'MF' | 'CN',
  year: string,
): Promise<string> {
  const index = invoiceCounterIndex(names);
  const id = series === 'MF' ? year : `${series}-${year}`;
  for (let attempt = 0; attempt < 50; attempt++) {
    try {
      const got = await es.get<{ year: string; last: number }>({ index, id }).catch((err) => {
        if ((err as { meta?: { statusCode?: number } }).meta?.statusCode === 404) return undefined;
        throw err;
      });
      let next: number;
      if (!got?.found || !got._source) {
        next = 1;
        await es.index({
          index,
          id,
          document: { year, last: next },
          op_type: 'create',
          refresh: false,
        });
      } else {
        next = got._source.last + 1;
        await es.index({
          index,
          id,
          document: { year, last: next },
          if_seq_no: got._seq_no!,
          if_primary_term: got._primary_term!,
        });
      }
      return `${series}-${year}-${String(next).padStart(6, '0')}`;
    } catch (err) {
      // Another finalizer took this number: read the counter again.
      if (!isConflict(err)) throw err;
    }
  }
  throw new PermanentError(ErrorCodes.UNKNOWN, `invoice counter ${id}: too much contention`);
}
