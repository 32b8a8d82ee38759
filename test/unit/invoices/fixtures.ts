import { loadPriceBook, type PriceBook } from '../../../processors/price/price-book';
import type { UsageRecord } from '../../../schemas/types.generated';
import {
  computeInvoice,
  summarizeUsage,
  type InvoiceDocument,
  type UsageInput,
  type UsageSummary,
} from '../../../invoices';
import { fixture } from '../../support/fixtures';
import { usageRecord } from '../../support/usage-record';

export const BOOK: PriceBook = loadPriceBook(fixture('invoices', 'pricebook.yaml'));

let seq = 0;

/**
 * A rated usage record; BilledCost defaults to the rated cost (the fixture book is at cost). Every
 * field invoices read (UsageInput) is stated here, so the shared builder's defaults never move an
 * invoice amount.
 */
export function rec(fields: Partial<UsageRecord> & { x_RatedCost: string }): UsageInput {
  seq++;
  return usageRecord({
    x_RecordId: `r${String(seq).padStart(6, '0')}`,
    x_RatedCurrency: 'EUR',
    BilledCost: fields.x_RatedCost,
    BillingCurrency: 'EUR',
    PricingQuantity: null,
    PricingUnit: null,
    ProviderName: 'AWS',
    ServiceName: 'AmazonEC2',
    ServiceCategory: 'Compute',
    SkuId: 'SKU1',
    RegionId: 'eu-west-1',
    ChargeCategory: 'Usage',
    Tags: {},
    x_Scope: 'aws:cur',
    x_Revision: 'r1',
    x_SourceObject: 'cur/part-0.csv',
    ...fields,
  });
}

export function summary(customer: string, period: string, records: UsageInput[], book = BOOK): UsageSummary {
  return summarizeUsage(records, { book, customer, period, groupBy: 'ServiceName' });
}

/** Compute a draft the way generate does, from plain record lists. */
export function draft(args: {
  customer: string;
  period: string;
  usage: UsageInput[];
  invoices?: InvoiceDocument[];
  restated?: Record<string, UsageInput[]>;
  book?: PriceBook;
  now?: string;
}): InvoiceDocument {
  const book = args.book ?? BOOK;
  const restated: Record<string, UsageSummary> = {};
  for (const [p, records] of Object.entries(args.restated ?? {}))
    restated[p] = summary(args.customer, p, records, book);
  return computeInvoice({
    customer: args.customer,
    period: args.period,
    book,
    options: { max_trace_objects: 50 },
    usage: summary(args.customer, args.period, args.usage, book),
    invoices: args.invoices ?? [],
    restated,
    now: args.now ?? '2026-04-01T00:00:00.000Z',
  });
}

export function finalize(doc: InvoiceDocument, number: string): InvoiceDocument {
  return { ...doc, status: 'finalized', number, finalized_at: '2026-04-02T00:00:00.000Z' };
}

export function lineOf(doc: InvoiceDocument, lineId: string) {
  const l = doc.lines.find((x) => x.line_id === lineId);
  if (!l) throw new Error(`no line ${lineId} in ${doc.lines.map((x) => x.line_id).join(', ')}`);
  return l;
}
