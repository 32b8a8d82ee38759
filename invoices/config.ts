import { z } from 'zod';

/** Fields an invoice's usage lines can be grouped by (keyword columns of the usage documents). */
export const GROUP_BY_FIELDS = [
  'ServiceName',
  'SkuId',
  'RegionId',
  'ServiceCategory',
  'ProviderName',
] as const;
export type GroupByField = (typeof GROUP_BY_FIELDS)[number];

/** Options of the invoice stage (snake_case, every key has a default). */
export const InvoiceOptionsSchema = z
  .object({
    group_by: z
      .enum(GROUP_BY_FIELDS)
      .default('ServiceName')
      .describe(
        'Usage column that groups rated usage into invoice lines (one usage line per distinct value).',
      ),
    schedule_interval_ms: z
      .number()
      .int()
      .positive()
      .default(3_600_000)
      .describe(
        'Scheduled mode: how often drafts of the current and the previous month are regenerated (milliseconds).',
      ),
    finalize_after_days: z
      .number()
      .int()
      .min(0)
      .default(5)
      .describe(
        'Scheduled mode: finalize the previous month this many days after it ended (late usage settles first). ' +
          '0: never finalize automatically.',
      ),
    max_trace_objects: z
      .number()
      .int()
      .positive()
      .default(50)
      .describe('Source objects listed in each line trace (their total count is always kept).'),
  })
  .strict();

export type InvoiceOptions = z.output<typeof InvoiceOptionsSchema>;
export type InvoiceOptionsInput = z.input<typeof InvoiceOptionsSchema>;

/** Validate options and fill defaults. Throws a ZodError listing every problem. */
export function parseInvoiceOptions(input: unknown = {}): InvoiceOptions {
  return InvoiceOptionsSchema.parse(input ?? {});
}

export const DEFAULT_INVOICE_OPTIONS: InvoiceOptions = parseInvoiceOptions({});
