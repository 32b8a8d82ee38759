import { ErrorCodes, InputError } from '../../../runtime/errors';
import {
  DEFAULT_INVOICE_OPTIONS,
  InvoiceOptionsSchema,
  parseInvoiceOptions,
  renderInvoiceHtml,
  runInvoiceCommand,
} from '../../../invoices';
import { indexNames } from '../../../sinks/elasticsearch/indices';
import { BOOK, draft, rec } from './fixtures';
import type { Client } from '@elastic/elasticsearch';

describe('renderInvoiceHtml', () => {
  it('renders a self-contained invoice and escapes every text', () => {
    const doc = draft({
      customer: 'hooli',
      period: '2026-01',
      usage: [rec({ ServiceName: '<script>alert("x")</script>&', x_RatedCost: '1.5' })],
    });
    const html = renderInvoiceHtml(doc);
    expect(html).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;');
    expect(html).not.toContain('<script>');
    expect(html).toContain('1.50');
    expect(html).toContain('DRAFT');
    expect(html).not.toMatch(/<link|src=|href=/);
  });
});

describe('invoice options', () => {
  it('has documented defaults and rejects unknown keys', () => {
    expect(DEFAULT_INVOICE_OPTIONS).toEqual({
      group_by: 'ServiceName',
      schedule_interval_ms: 3_600_000,
      finalize_after_days: 5,
      max_trace_objects: 50,
      seller: { name: '', address: [], tax_id: '' },
      customers: {},
      payment_terms_days: 30,
      payment_terms: '',
      tax: { rates: {}, label: 'Tax' },
      html_links: { secret: '', ttl_seconds: 900 },
      notices: {
        kafka: true,
        webhook_urls: [],
        webhook_secret: '',
        max_attempts: 6,
        initial_backoff_ms: 1000,
        timeout_ms: 10_000,
      },
    });
    // Webhooks without a secret long enough to sign them are refused.
    expect(() =>
      parseInvoiceOptions({ notices: { webhook_urls: ['https://billing.example/hook'] } }),
    ).toThrow(/webhook_secret of at least 32 characters/);
    expect(() =>
      parseInvoiceOptions({ notices: { webhook_urls: ['ftp://x/y'], webhook_secret: 'k'.repeat(32) } }),
    ).toThrow();
    expect(() => parseInvoiceOptions({ group_by: 'ResourceId' })).toThrow();
    expect(() => parseInvoiceOptions({ groupBy: 'SkuId' })).toThrow();
    for (const [key, field] of Object.entries(InvoiceOptionsSchema.shape))
      expect([key, field.description?.length ?? 0]).not.toEqual([key, 0]);
  });
});

describe('runInvoiceCommand', () => {
  it('rejects a malformed period before touching Elasticsearch', async () => {
    for (const period of ['2026-13', '2026-1', 'march', '2026-03-01']) {
      const run = runInvoiceCommand({
        es: {} as Client,
        names: indexNames('t'),
        book: BOOK,
        options: DEFAULT_INVOICE_OPTIONS,
        action: 'generate',
        period,
        out: () => undefined,
      });
      await expect(run).rejects.toBeInstanceOf(InputError);
      await expect(run).rejects.toMatchObject({ code: ErrorCodes.MALFORMED_INPUT });
      await expect(run).rejects.toThrow(/expected YYYY-MM/);
    }
  });
});
