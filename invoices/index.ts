/**
 * The public entry of invoices/. Modules whose every export is public are re-exported whole; the
 * modules of the computation and of Elasticsearch I/O also export building blocks to each other,
 * so only their public names are listed here.
 */
export * from './types';
export * from './config';
export * from './rounding';
export * from './period';
export * from './result';
export {
  USAGE_SOURCE_FIELDS,
  UsageAccumulator,
  summarizeUsage,
  type UsageInput,
  type UsageSummary,
} from './usage';
export { plansInEffect, planMatches } from './plans';
export { computePeriodLines } from './period-lines';
export { computeAdjustments } from './adjustments';
export { creditBurnedBefore } from './credits';
export { invoiceFingerprint } from './assemble';
export { computeInvoice, InvoiceError, type InvoiceInputs } from './compute';
export { customerInvoices, ensureInvoiceIndex, invoiceCounterIndex, invoiceMappings } from './store';
export { customersWithUsage, readUsage, summarizeStoredUsage } from './published-usage';
export { generateInvoices } from './generate';
export { nextInvoiceNumber } from './numbering';
export { finalizeInvoices } from './finalize';
export * from './schedule';
export * from './command';
export * from './html';
export * from './listing';
export * from './export';
export * from './pdf';
export * from './tax';
export * from './parties';
export * from './corrections';
export * from './completeness';
export * from './regenerate';
