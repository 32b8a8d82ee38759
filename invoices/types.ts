/**
 * The invoice document, as stored in P-invoices (_id = invoice_id) and served by the API.
 * Every amount is exact decimal text. `amount` on a line is rounded ONCE to the currency's minor
 * unit (HALF_EVEN); totals are exact sums of rounded line amounts, so they need no rounding.
 */
export type InvoiceStatus = 'draft' | 'finalized' | 'void';

/** What kind of document: an invoice of a period, or a credit note correcting a finalized invoice. */
export type DocumentType = 'invoice' | 'credit_note';

/** A party printed on the document (seller or buyer), from the `invoice:` config. */
export interface InvoiceParty {
  name: string;
  address: string[];
  tax_id: string | null;
}

/** Seller, buyer and payment terms, copied from the config when the draft is computed (frozen on finalize). */
export interface InvoiceParties {
  seller: InvoiceParty;
  buyer: InvoiceParty & { jurisdiction: string | null };
  payment_terms_days: number;
  payment_terms: string;
}

/**
 * A tax line of the invoice: `amount` = `base` x `rate_percent` / 100, rounded ONCE to the minor unit
 * (HALF_EVEN), per invoice. `base` is the subtotal (the exact sum of the rounded line amounts).
 */
export interface InvoiceTax {
  label: string;
  jurisdiction: string;
  rate_percent: string;
  base: string;
  amount_exact: string;
  amount: string;
}

/** A reference to another document: its id and number. */
export interface DocumentRef {
  invoice_id: string;
  number: string | null;
}

export type InvoiceLineKind =
  | 'usage' // rated usage of one group (default: service), summed exactly from x_RatedCost
  | 'plan' // a graduated / volume / package plan charge replacing the covered usage lines
  | 'minimum_commitment' // true-up to a plan's minimum_amount
  | 'credit' // prepaid credit burned (negative)
  | 'adjustment'; // a change to a finalized earlier period (late usage or restatement)

export interface InvoiceLineTrace {
  /** Revisions the line's usage came from. */
  revisions: { scope: string; revision_id: string }[];
  /** Distinct x_SourceObject values (first 50) and how many there are in all. */
  source_objects: string[];
  source_object_count: number;
  record_count: number;
}

export interface InvoiceLine {
  /** Stable within an invoice and across regenerations: kind plus group / plan id / adjusted line. */
  line_id: string;
  kind: InvoiceLineKind;
  description: string;
  /** The grouping value (service name by default); null for plan-less non-usage lines. */
  group: string | null;
  plan_id: string | null;
  quantity: string | null;
  unit: string | null;
  /** Exact, before rounding. */
  amount_exact: string;
  /** Rounded to the currency's minor unit, HALF_EVEN; what the customer pays for the line. */
  amount: string;
  /** Usage lines covered by a quantity plan show their rated cost here instead of being charged. */
  included_in_plan: string | null;
  /** Cloud cost behind the line (sum of BilledCost), in the cloud's currency. */
  cloud_cost: { currency: string; amount: string }[];
  trace: InvoiceLineTrace;
  /** Adjustment lines: what they correct. */
  adjusts: {
    invoice_id: string;
    invoice_number: string | null;
    period: string;
    line_id: string;
    billed_amount: string;
    current_amount: string;
    cause: string;
  } | null;
}

export interface InvoiceDocument {
  /** `${customer}:${period}` */
  invoice_id: string;
  /** Assigned at finalization (MF-<YYYY>-<6-digit sequence>), null for drafts. */
  number: string | null;
  customer: string;
  period: string;
  currency: string;
  status: InvoiceStatus;
  generated_at: string;
  finalized_at: string | null;
  price_book_version: string | null;
  rounding: { mode: 'HALF_EVEN'; minor_units: number };
  lines: InvoiceLine[];
  /** Sum of line amounts (already rounded). */
  total: string;
  /** Cloud cost per currency, and margin = total - cloud cost where the currency is the same. */
  cloud_cost: { currency: string; amount: string }[];
  margin: string | null;
  revisions: { scope: string; revision_id: string }[];
  /**
   * The customer's finalized invoices (`${invoice_id}#${number}`) this document was computed
   * against. Adjustments depend on them, so finalize refuses a draft whose basis is stale (another
   * invoice of the customer was finalized since): regenerate first. Keeps one adjustment from
   * landing on two finalized invoices.
   */
  basis_finalized: string[];
  /** sha256 of the computed content (everything but generated_at, status, number, finalized_at and
   * the fingerprint itself); regenerating with unchanged inputs yields the same value and writes nothing. */
  fingerprint: string;

  // Fields below are absent on documents stored by earlier versions: read them with `?? default`.

  /** 'invoice' (absent: invoice) or 'credit_note'. */
  document_type?: DocumentType;
  /** Net: the exact sum of the rounded line amounts. `total` = subtotal + taxes. */
  subtotal?: string;
  taxes?: InvoiceTax[];
  parties?: InvoiceParties | null;
  /** Set on finalization: the UTC day it was finalized, and that + payment_terms_days. */
  issue_date?: string | null;
  due_date?: string | null;
  /** Finalized although the period had pending revisions or open dead letters (finalize --force-incomplete). */
  completeness_override?: CompletenessOverride | null;
  /** Credit notes: why they were issued. */
  correction_reason?: string | null;
  /** Credit notes: the finalized invoice they correct. */
  corrects?: DocumentRef | null;
  /** Void invoices: when, why, and the document reissued in their place (if any). */
  voided?: { at: string; reason: string; by: string } | null;
  replaced_by?: DocumentRef | null;
  /** A reissued invoice: the void invoice it replaces. */
  replaces?: DocumentRef | null;
}

export interface CompletenessOverride {
  reason: string;
  by: string;
  at: string;
  pending_revisions: string[];
  open_dead_letters: number;
}
