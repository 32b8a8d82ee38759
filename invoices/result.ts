import type { InvoiceDocument } from './types';

/** What generate and finalize report per invoice (CLI lines, schedule ticks, demo). */

export type GenerateOutcome = 'written' | 'unchanged' | 'finalized' | 'empty' | 'error';

export interface InvoiceResult {
  invoice_id: string;
  customer: string;
  period: string;
  outcome: GenerateOutcome | 'already_finalized' | 'stale' | 'not_found';
  invoice: InvoiceDocument | null;
  error: string | null;
}
