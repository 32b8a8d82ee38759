import type { Client } from '@elastic/elasticsearch';
import type { IndexNames } from '../sinks/elasticsearch/indices';
import { IncompletePeriodError, periodCompleteness } from './completeness';
import { nextInvoiceNumber } from './numbering';
import { dueDate } from './parties';
import { invoiceId } from './period';
import type { InvoiceResult } from './result';
import { customerInvoices, ensureInvoiceIndex, getInvoice, isConflict, searchInvoices } from './store';
import type { CompletenessOverride, InvoiceDocument } from './types';

/**
 * Finalize: a draft becomes immutable, with a number and finalized_at. Finalize freezes the stored
 * draft as it is (generate, review, finalize); it never recomputes. Per draft, in this order:
 *   1. check the draft's basis (the customer's finalized invoices it was computed against) is
 *      current, else refuse: adjustments might be on another finalized invoice by now;
 *   2. take the next number of the year from the counter document (numbering.ts: optimistic
 *      concurrency, retried on 409), so two finalizers never share a number;
 *   3. write the invoice as finalized with if_seq_no of the draft read. On 409 it re-reads: still a
 *      draft (regenerated meanwhile) -> finalize that content with the same number; finalized by
 *      someone else -> its number stands and ours is unused (the only way a gap in the sequence
 *      can appear: two finalizers racing on the same invoice).
 */

/**
 * Finalize the drafts of a period (optionally one customer's): number, finalized_at, immutable
 * from then on. Finalizing a finalized invoice is a no-op ('already_finalized').
 */
export async function finalizeInvoices(args: {
  es: Client;
  names: IndexNames;
  period: string;
  customer?: string;
  now?: Date;
  /**
   * Finalize although the period is incomplete (pending revisions, open dead letters): why and who.
   * Recorded on every invoice it finalizes. Absent: an incomplete period is refused
   * (IncompletePeriodError, completeness.ts).
   */
  forceIncomplete?: { reason: string; by: string };
}): Promise<InvoiceResult[]> {
  const { es, names, period } = args;
  const now = args.now ?? new Date();
  await ensureInvoiceIndex(es, names);
  const filter: Record<string, unknown>[] = [{ term: { period } }];
  if (args.customer !== undefined) filter.push({ term: { customer: args.customer } });
  const found = await searchInvoices(es, names, filter);
  if (args.customer !== undefined && found.length === 0) {
    const id = invoiceId(args.customer, period);
    return [
      { invoice_id: id, customer: args.customer, period, outcome: 'not_found', invoice: null, error: null },
    ];
  }
  // The gate, only when there is something to finalize: finalizing a finalized period is a no-op.
  let override: CompletenessOverride | null = null;
  if (found.some((f) => f.doc.status === 'draft')) {
    const c = await periodCompleteness(es, names, period);
    if (!c.complete) {
      if (!args.forceIncomplete) throw new IncompletePeriodError(c);
      override = {
        reason: args.forceIncomplete.reason,
        by: args.forceIncomplete.by,
        at: now.toISOString(),
        pending_revisions: c.pending.map((p) => `${p.scope}@${p.revision_id} (${p.state})`),
        open_dead_letters: c.deadLetters.reduce((n, d) => n + d.count, 0),
      };
    }
  }
  const results: InvoiceResult[] = [];
  for (const { doc } of found) {
    const base = { invoice_id: doc.invoice_id, customer: doc.customer, period };
    let number: string | null = null;
    for (let attempt = 0; ; attempt++) {
      const current = await getInvoice(es, names, doc.invoice_id);
      if (!current) break;
      if (current.doc.status !== 'draft') {
        results.push({ ...base, outcome: 'already_finalized', invoice: current.doc, error: null });
        break;
      }
      const finalizedNow = (await customerInvoices(es, names, doc.customer))
        .filter((i) => i.status === 'finalized' && i.invoice_id !== doc.invoice_id)
        .map((i) => `${i.invoice_id}#${i.number}`)
        .sort();
      if (finalizedNow.join('\n') !== [...(current.doc.basis_finalized ?? [])].sort().join('\n')) {
        results.push({
          ...base,
          outcome: 'stale',
          invoice: current.doc,
          error:
            `draft ${doc.invoice_id} was computed before other invoices of ${doc.customer} were finalized; ` +
            'generate it again, then finalize',
        });
        break;
      }
      number ??= await nextInvoiceNumber(es, names, String(now.getUTCFullYear()));
      const issueDate = now.toISOString().slice(0, 10);
      const final: InvoiceDocument = {
        ...current.doc,
        status: 'finalized',
        number,
        finalized_at: now.toISOString(),
        issue_date: issueDate,
        due_date: dueDate(issueDate, current.doc.parties?.payment_terms_days ?? 30),
        completeness_override: override,
      };
      try {
        await es.index({
          index: names.invoices,
          id: doc.invoice_id,
          document: final,
          if_seq_no: current.seqNo,
          if_primary_term: current.primaryTerm,
          refresh: 'wait_for',
        });
        results.push({ ...base, outcome: 'written', invoice: final, error: null });
        break;
      } catch (err) {
        if (!isConflict(err) || attempt >= 5) throw err;
      }
    }
  }
  return results;
}
