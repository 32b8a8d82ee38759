import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Registry } from 'prom-client';
import { generateApiKey, hashApiKey } from '../../../api';
import { startApiFor } from '../../../api/service';
import { finalizeInvoices, generateInvoices } from '../../../invoices';
import { startStages } from '../../../processors/command';
import { loadPriceBook } from '../../../processors/price';
import { createElasticsearch, scanAll } from '../../../runtime/elasticsearch';
import { createLogger } from '../../../runtime/logger';
import { Shutdown } from '../../../runtime/shutdown';
import { Decimal, decimalToString } from '../../../schemas/decimal';
import { startSink } from '../../../sinks/elasticsearch/command';
import { indexNames, type RevisionDocument, type UsageDocument } from '../../../sinks/elasticsearch/indices';
import { eventually, testConfig, uniqueName } from '../helpers';

/**
 * First-party usage on the real stack: CloudEvents sent to POST /v1/events of a running API go
 * through Kafka, normalize, dedupe, price and the sink into Elasticsearch, and onto invoices.
 * Duplicates (same source + id twice in one batch, and again in a later request) count once; a
 * malformed event and one for a customer the key is not granted are rejected by index and field
 * while the rest of their batch is accepted; a late event inside the window lands in its own
 * period; an event for a period whose invoice is finalized becomes an adjustment line on the next.
 */
const BOOK = `
version: events-test-1
currency_default: USD
customers:
  acme: {}
rules:
  - id: deployment-hours
    match: { ServiceName: Deployments, PricingUnit: Hours }
    model: per_unit
    unit_price: '0.125'
`;

const SOURCE = '//deploy.example.test/cluster-1';

function event(id: string, time: string, quantity: string, customer = 'acme', source = SOURCE) {
  return {
    specversion: '1.0',
    id,
    source,
    type: 'com.example.deployment.capacity',
    time,
    datacontenttype: 'application/json',
    data: { customer, service: 'Deployments', sku: 'deploy-std', unit: 'Hours', quantity },
  };
}

describe('first-party usage events on the real stack', () => {
  jest.setTimeout(300_000);

  it('dedupes by source + id exactly, reports rejections per event, and lands late events in their period or as adjustments', async () => {
    const name = uniqueName('events');
    const config = testConfig();
    config.kafka.topic_prefix = name;
    config.elasticsearch.index_prefix = name;
    config.sink.publish_interval_ms = 500;
    config.processor.session_timeout_ms = 6000;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mf-events-'));
    const bookFile = path.join(dir, 'pricebook.yaml');
    fs.writeFileSync(bookFile, BOOK);
    config.processor.price_book_file = bookFile;
    config.events.enabled = true;
    config.events.instance_id = 'ingest-test';
    config.events.late_window_hours = 96;
    // Seal often: visibility waits for the seal (production default: a minute).
    config.events.seal_interval_ms = 300;
    const key = generateApiKey();
    const other = generateApiKey();
    const metricsKey = generateApiKey();
    config.api.keys = [
      {
        id: 'deployer',
        role: 'ingest',
        key_sha256: hashApiKey(key),
        sources: ['//deploy.example.test/*'],
        customers: ['acme'],
      },
      { id: 'reader', role: 'customer', customer: 'acme', key_sha256: hashApiKey(other) },
      { id: 'prometheus', role: 'metrics', key_sha256: hashApiKey(metricsKey) },
    ];
    const logger = createLogger({ level: 'warn', component: 'events-test' });
    const registry = new Registry();
    const shutdown = new Shutdown(logger, { timeoutMs: 10_000 });
    let api = await startApiFor(config, logger, { port: 0 });
    const es = createElasticsearch(config);
    const names = indexNames(name);
    const post = async (body: unknown, contentType: string, bearer = key) => {
      const res = await fetch(`${api.url}/v1/events`, {
        method: 'POST',
        headers: { authorization: `Bearer ${bearer}`, 'content-type': contentType },
        body: JSON.stringify(body),
      });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };
    try {
      await startStages(
        config,
        ['normalize', 'dedupe', 'price'],
        { logger, registry, shutdown },
        'events-test',
      );
      await startSink(config, { logger, registry, shutdown });

      // A batch: two November events, one of them twice, a malformed one, one for a customer the
      // key may not send, one of this month, and one of September (its own period, closed later).
      const now = new Date();
      const thisMonth = now.toISOString().slice(0, 7);
      const earlier = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 1, 10, 12)).toISOString();
      const lastMonth = earlier.slice(0, 7);
      const oldTime = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 3, 15, 8)).toISOString();
      const oldPeriod = oldTime.slice(0, 7);
      const batch = [
        event('e1', earlier, '2'),
        event('e2', earlier, '3.5'),
        event('e1', earlier, '2'),
        event('bad', earlier, 'two hours'),
        event('not-mine', earlier, '1', 'globex'),
        event('e3', now.toISOString(), '1'),
        event('e5', oldTime, '4'),
      ];
      const first = await post(batch, 'application/cloudevents-batch+json');
      expect(first.status).toBe(202);
      expect(first.body).toMatchObject({ accepted: 4, duplicates: 1, rejected: 2 });
      const results = first.body.results as Array<Record<string, unknown>>;
      expect(results.map((r) => r.status)).toEqual([
        'accepted',
        'accepted',
        'duplicate',
        'rejected',
        'rejected',
        'accepted',
        'accepted',
      ]);
      expect(results[3]).toMatchObject({ index: 3, field: 'data.quantity' });
      expect(results[4]).toMatchObject({ index: 4, field: 'data.customer' });
      expect(results[6]).toMatchObject({ period: oldPeriod, lateness: 'adjustment' });

      // The same event again in a later request: 200, nothing written.
      const again = await post(event('e2', earlier, '3.5'), 'application/cloudevents+json');
      expect(again.status).toBe(200);
      expect(again.body).toMatchObject({ accepted: 0, duplicates: 1, rejected: 0 });
      // After a restart the ingest still knows what it accepted (read back from the raw topic).
      await api.close();
      api = await startApiFor(config, logger, { port: 0 });
      const afterRestart = await post(
        [event('e1', earlier, '2'), event('e5', oldTime, '4')],
        'application/cloudevents-batch+json',
      );
      expect(afterRestart.status).toBe(200);
      expect(afterRestart.body).toMatchObject({ accepted: 0, duplicates: 2 });
      // A late event of last month, inside the window: its own period.
      const lateTime = new Date(Date.parse(`${thisMonth}-01T00:00:00Z`) - 3_600_000).toISOString();
      const late = await post(event('e4', lateTime, '1.25'), 'application/cloudevents+json');
      expect(late.status).toBe(202);
      expect((late.body.results as Array<Record<string, unknown>>)[0]).toMatchObject({
        period: lastMonth,
        lateness:
          now.getTime() - Date.parse(`${thisMonth}-01T00:00:00Z`) < 96 * 3_600_000 ? 'late' : 'adjustment',
      });
      // Keys are checked: a reader key may not ingest.
      expect((await post(event('x', earlier, '1'), 'application/cloudevents+json', other)).status).toBe(403);

      // Exact totals per period in the published alias: one document per distinct event.
      const quantities = async () => {
        await es.indices.refresh({ index: names.usagePattern });
        const by = new Map<string, { q: Decimal; rated: Decimal; n: number }>();
        for await (const hits of scanAll<UsageDocument>(es, names.usageAlias, { match_all: {} }, true))
          for (const h of hits) {
            const d = h._source!;
            const t = by.get(d.x_BillingPeriod) ?? { q: new Decimal(0), rated: new Decimal(0), n: 0 };
            t.q = t.q.plus(d.PricingQuantity!);
            t.rated = t.rated.plus(d.x_RatedCost!);
            t.n++;
            by.set(d.x_BillingPeriod, t);
          }
        return Object.fromEntries(
          [...by].sort().map(([p, t]) => [p, [t.n, decimalToString(t.q), decimalToString(t.rated)]]),
        );
      };
      const expected = {
        [oldPeriod]: [1, '4', '0.5'],
        [lastMonth]: [3, '6.75', '0.84375'],
        [thisMonth]: [1, '1', '0.125'],
      };
      const published = await eventually(async () => {
        const q = await quantities();
        return JSON.stringify(q) === JSON.stringify(expected) ? q : undefined;
      }, 180_000);
      expect(published).toEqual(expected);
      // Every document is a platform row with the event's idempotency key as record id.
      const docs = await es.search<UsageDocument>({ index: names.usageAlias, size: 20 });
      expect(new Set(docs.hits.hits.map((h) => h._source!.ProviderName))).toEqual(new Set(['Platform']));
      expect(docs.hits.hits.every((h) => h._source!.BilledCost === '0')).toBe(true);
      // Seals accumulate: every one ends published, none superseded (the publisher records the
      // states just after it swaps the alias, so wait for them).
      const states = await eventually(async () => {
        await es.indices.refresh({ index: names.revisions });
        const revs = await es.search<RevisionDocument>({ index: names.revisions, size: 100 });
        const all = revs.hits.hits.map((h) => h._source!.state);
        return all.length >= 4 && all.every((st) => st === 'published') ? all : undefined;
      }, 60_000);
      expect(new Set(states)).toEqual(new Set(['published']));

      // Invoices: finalize the old period, then a late event for it becomes an adjustment line.
      const book = loadPriceBook(bookFile);
      await generateInvoices({ es, names, book, period: oldPeriod, options: config.invoice });
      const fin = await finalizeInvoices({ es, names, period: oldPeriod });
      expect(fin.map((r) => [r.invoice_id, r.invoice?.total])).toEqual([[`acme:${oldPeriod}`, '0.50']]);
      const after = await post(
        event('e6', new Date(Date.parse(oldTime) + 86_400_000).toISOString(), '2'),
        'application/cloudevents+json',
      );
      expect((after.body.results as Array<Record<string, unknown>>)[0]).toMatchObject({
        status: 'accepted',
        period: oldPeriod,
        lateness: 'adjustment',
      });
      await eventually(async () => {
        const q = await quantities();
        return q[oldPeriod]?.[1] === '6' ? true : undefined;
      }, 120_000);
      const [inv] = await generateInvoices({ es, names, book, period: lastMonth, options: config.invoice });
      const invoice = inv.invoice!;
      const usage = invoice.lines.filter((l) => l.kind === 'usage');
      const adjustments = invoice.lines.filter((l) => l.kind === 'adjustment');
      // 6.75 h x 0.125 = 0.84375 -> 0.84 (HALF_EVEN, once per line); the September event: 2 h = 0.25.
      expect(usage.map((l) => [l.group, l.amount])).toEqual([['Deployments', '0.84']]);
      expect(adjustments.map((l) => [l.amount, l.adjusts?.invoice_id])).toEqual([
        ['0.25', `acme:${oldPeriod}`],
      ]);
      expect(invoice.total).toBe('1.09');
      // No cloud cost behind first-party lines: the margin is the whole price.
      expect(invoice.margin).toBe('1.09');
      // Outcomes since the restart: e4 and e6 accepted, e1 and e5 duplicates, nothing rejected.
      const metrics = await fetch(`${api.url}/metrics`, {
        headers: { authorization: `Bearer ${metricsKey}` },
      });
      const text = await metrics.text();
      const outcome = (o: string) =>
        Number(new RegExp(`meterflow_events_total\\{outcome="${o}"\\} (\\d+)`).exec(text)?.[1]);
      expect([outcome('accepted'), outcome('duplicate'), outcome('rejected')]).toEqual([2, 2, 0]);
    } finally {
      await shutdown.run();
      await api.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
