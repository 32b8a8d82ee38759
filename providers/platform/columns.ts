/**
 * The raw-row layout of first-party usage events (format `platform-events`). The ingest endpoint
 * (ingest/) validates each CloudEvent and writes it to `<prefix>.raw.platform` as one positional
 * row of this header, so the event travels the same raw -> normalize -> dedupe -> price -> sink
 * path as a cloud export's line. Values are text exactly as the event gave them (quantities stay
 * decimal text); `tags` is a JSON object.
 */
export const EVENT_COLUMNS = [
  'ce_id',
  'ce_source',
  'ce_type',
  'ce_subject',
  'ce_time',
  'end_time',
  'customer',
  'service',
  'sku',
  'unit',
  'quantity',
  'region',
  'resource_id',
  'tags',
  'currency',
  'billed_cost',
  'provider_name',
] as const;

export type EventColumn = (typeof EVENT_COLUMNS)[number];

/** Position of each column in EVENT_COLUMNS. */
export const EVENT_COLUMN: Readonly<Record<EventColumn, number>> = Object.fromEntries(
  EVENT_COLUMNS.map((c, i) => [c, i]),
) as Record<EventColumn, number>;

export type PlatformFormat = 'platform-events';
/** The one format of first-party events (what the ingest stamps on its revisions). */
export const PLATFORM_FORMAT: PlatformFormat = 'platform-events';

/**
 * The platform's billed cost of an event is 0: the platform is its own provider, so there is no
 * cloud cost behind a first-party line. Its price comes from the price book (a per_unit rule on the
 * service and SKU), and an invoice's margin on such a line is its whole price (invoices/README.md).
 * The column is still carried so the collector-side control totals (row count per currency,
 * billed cost 0) reconcile the revision exactly like any export's.
 */
export const BILLED_COST: Record<PlatformFormat, readonly string[]> = { 'platform-events': ['billed_cost'] };
export const CURRENCY: Record<PlatformFormat, readonly string[]> = { 'platform-events': ['currency'] };
