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

const DECIMAL_TEXT = /^\d+(\.\d+)?$/;

/** A postal address as printed on the document, one entry per line. */
const AddressSchema = z.array(z.string().min(1)).default([]);

/** Who issues the invoices (printed on every document). */
export const SellerSchema = z
  .object({
    name: z.string().default('').describe('Legal name of the seller, printed on every invoice.'),
    address: AddressSchema.describe('Postal address of the seller, one line per entry.'),
    tax_id: z.string().default('').describe('Tax (VAT) identification number of the seller.'),
  })
  .strict();

/** A customer's billing details: who the buyer is, where it is taxed. */
export const BillingCustomerSchema = z
  .object({
    name: z.string().optional().describe('Legal name of the buyer; default the customer id.'),
    address: AddressSchema.describe('Postal address of the buyer, one line per entry.'),
    tax_id: z.string().optional().describe("The buyer's tax (VAT) identification number, if any."),
    jurisdiction: z
      .string()
      .regex(/^[A-Z]{2}(-[A-Z0-9]{1,3})?$/, 'a country code, optionally with a subdivision (DE, US-CA)')
      .optional()
      .describe(
        'Tax jurisdiction: ISO 3166 country, optionally "-subdivision" (DE, US-CA); selects invoice.tax.rates.',
      ),
  })
  .strict();
export type BillingCustomer = z.output<typeof BillingCustomerSchema>;

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
    seller: SellerSchema.prefault({}).describe('The seller printed on every invoice.'),
    customers: z
      .record(z.string().min(1), BillingCustomerSchema)
      .default({})
      .describe('Billing details per customer id (x_CustomerId): name, address, tax id, tax jurisdiction.'),
    payment_terms_days: z
      .number()
      .int()
      .min(0)
      .default(30)
      .describe('Due date = issue date (the day of finalization, UTC) + this many days.'),
    payment_terms: z
      .string()
      .default('')
      .describe('Payment terms text printed on the invoice; default "Payment due within N days of issue."'),
    tax: z
      .object({
        rates: z
          .record(
            z.string().regex(/^[A-Z]{2}(-[A-Z0-9]{1,3})?$/, 'a jurisdiction (DE, US-CA)'),
            z.string().regex(DECIMAL_TEXT, 'a percentage as decimal text ("19", "7.25")'),
          )
          .default({})
          .describe(
            'Tax rate in percent per jurisdiction ("DE": "19", "US-CA": "7.25"); a subdivision falls back to its ' +
              'country. Empty: no tax. When set, every invoiced customer needs a jurisdiction with a rate ("0" for exempt).',
          ),
        label: z.string().default('Tax').describe('Name of the tax on documents (VAT, Sales tax).'),
      })
      .strict()
      .prefault({})
      .describe('Taxes: one rate per invoice, from the customer jurisdiction.'),
    html_links: z
      .object({
        secret: z
          .string()
          .refine(
            (v) => v === '' || v.length >= 32,
            'at least 32 characters (or empty: a random key per process)',
          )
          .default('')
          .describe(
            'HMAC key signing the short-lived /html links (at least 32 characters). Empty: a random key per API ' +
              'process (links then only work on the process that made them, until it restarts).',
          ),
        ttl_seconds: z
          .number()
          .int()
          .positive()
          .max(7 * 86_400)
          .default(900)
          .describe('How long a signed /html link stays valid.'),
      })
      .strict()
      .prefault({})
      .describe('Signed links that open an invoice page in a browser without an API key.'),
    notices: z
      .object({
        kafka: z
          .boolean()
          .default(true)
          .describe(
            'Send invoice.finalized events to <prefix>.invoice-events (Avro, schemas/invoice-event.avsc).',
          ),
        webhook_urls: z
          .array(z.url({ protocol: /^https?$/ }))
          .default([])
          .describe('URLs that receive each invoice.finalized event as a JSON POST.'),
        webhook_secret: z
          .string()
          .default('')
          .describe(
            'HMAC-SHA256 key of the X-Meterflow-Signature header (t=<unix s>,v1=<hex of HMAC over "<t>.<body>">). ' +
              'Required (32+ characters) when webhook_urls is set.',
          ),
        max_attempts: z
          .number()
          .int()
          .min(1)
          .max(20)
          .default(6)
          .describe('Delivery attempts per webhook and event (the first included).'),
        initial_backoff_ms: z
          .number()
          .int()
          .positive()
          .default(1000)
          .describe('Wait before the second attempt; doubled before each further one.'),
        timeout_ms: z
          .number()
          .int()
          .positive()
          .default(10_000)
          .describe('Time allowed for one webhook request.'),
      })
      .strict()
      .superRefine((n, ctx) => {
        if (n.webhook_urls.length > 0 && n.webhook_secret.length < 32)
          ctx.addIssue({
            code: 'custom',
            path: ['webhook_secret'],
            message: 'webhook_urls needs a webhook_secret of at least 32 characters',
          });
      })
      .prefault({})
      .describe(
        'Notices of finalized invoices: a Kafka event and signed webhooks. They never block or fail a finalization.',
      ),
  })
  .strict();

export type InvoiceOptions = z.output<typeof InvoiceOptionsSchema>;
export type InvoiceOptionsInput = z.input<typeof InvoiceOptionsSchema>;

/** Validate options and fill defaults. Throws a ZodError listing every problem. */
export function parseInvoiceOptions(input: unknown = {}): InvoiceOptions {
  return InvoiceOptionsSchema.parse(input ?? {});
}

export const DEFAULT_INVOICE_OPTIONS: InvoiceOptions = parseInvoiceOptions({});
