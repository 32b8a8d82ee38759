import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import type { MeterflowConfig } from '../../../runtime/config';
import { createElasticsearch } from '../../../runtime/elasticsearch';
import { createKafka, topicNames } from '../../../runtime/kafka';
import { createLogger } from '../../../runtime/logger';
import { AvroTypes, type InvoiceEvent } from '../../../schemas';
import { indexNames } from '../../../sinks/elasticsearch/indices';
import { parseInvoiceOptions, type InvoiceDocument } from '../../../invoices';
import { noticeIndex, noticeStates, SIGNATURE_HEADER, verifyWebhook } from '../../../invoices/notices';
import { announceResults } from '../../../invoices/service';
import { readTopic } from '../collectors/kafka-read';
import { testConfig, uniqueName } from '../helpers';
import { draft, finalize, rec } from '../../unit/invoices/fixtures';

/**
 * invoice.finalized notices against the real local Kafka (a unique topic prefix) and a local HTTP
 * server that fails the first attempt: the event on <prefix>.invoice-events, the signed webhook
 * retried until delivered, and the delivery state recorded.
 */

const SECRET = 'webhook-secret-'.padEnd(40, 'w');
const base = testConfig();
const prefix = uniqueName('mf-invnote');

interface Received {
  body: string;
  signature: string;
  eventId: string;
}

function server(
  failFirst: number,
): Promise<{ url: string; received: Received[]; close: () => Promise<void> }> {
  const received: Received[] = [];
  const srv = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      received.push({
        body,
        signature: String(req.headers[SIGNATURE_HEADER]),
        eventId: String(req.headers['x-meterflow-event-id']),
      });
      res.statusCode = received.length <= failFirst ? 500 : 204;
      res.end();
    });
  });
  return new Promise((resolve) =>
    srv.listen(0, '127.0.0.1', () =>
      resolve({
        url: `http://127.0.0.1:${(srv.address() as AddressInfo).port}/hooks/billing`,
        received,
        close: () => new Promise<void>((r) => srv.close(() => r())),
      }),
    ),
  );
}

function finalized(customer: string, number: string): InvoiceDocument {
  const d = draft({
    customer,
    period: '2026-09',
    usage: [rec({ x_CustomerId: customer, x_RatedCost: '12.345' })],
  });
  return { ...finalize(d, number), issue_date: '2026-10-02', due_date: '2026-11-01' };
}

const logLines: string[] = [];
const logger = createLogger({
  level: 'debug',
  destination: new Writable({
    write(chunk, _enc, done) {
      logLines.push(String(chunk));
      done();
    },
  }),
});

describe('invoice.finalized notices', () => {
  const es = createElasticsearch(base);
  const names = indexNames(prefix);

  afterAll(async () => {
    await es.indices.delete({ index: [noticeIndex(names)], ignore_unavailable: true });
    await es.close();
  });

  function configFor(urls: string[], maxAttempts = 4): MeterflowConfig {
    return {
      ...base,
      kafka: { ...base.kafka, topic_prefix: prefix },
      elasticsearch: { ...base.elasticsearch, index_prefix: prefix },
      invoice: parseInvoiceOptions({
        notices: {
          webhook_urls: urls,
          webhook_secret: SECRET,
          max_attempts: maxAttempts,
          initial_backoff_ms: 50,
        },
      }),
    };
  }

  it('publishes the event on Kafka and delivers the signed webhook after a failed first attempt', async () => {
    const hook = await server(1);
    try {
      const config = configFor([hook.url]);
      const doc = finalized('hooli', 'MF-2026-000901');
      await announceResults(config, es, names, logger, [
        {
          invoice_id: doc.invoice_id,
          customer: 'hooli',
          period: doc.period,
          outcome: 'written',
          invoice: doc,
          error: null,
        },
      ]);

      // Kafka: one Avro event in the single-object encoding, keyed by customer.
      const kafka = createKafka(config, 'test-reader', logger);
      const events = await readTopic(
        kafka,
        topicNames(config).invoiceEvents,
        (v) => AvroTypes.invoiceEvent.fromBuffer(v) as InvoiceEvent,
      );
      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject({
        type: 'INVOICE_FINALIZED',
        event_id: 'hooli:2026-09/MF-2026-000901/INVOICE_FINALIZED',
        number: 'MF-2026-000901',
        customer: 'hooli',
        subtotal: '12.34', // 12.345 -> 12.34 (HALF_EVEN)
        tax: '0',
        total: '12.34',
        due_date: '2026-11-01',
      });

      // Webhook: two attempts (500, then 204), each signed over its own body and timestamp.
      expect(hook.received).toHaveLength(2);
      const nowS = Math.floor(Date.now() / 1000);
      for (const r of hook.received) {
        expect(verifyWebhook(SECRET, r.body, r.signature, nowS)).toBe(true);
        // The same HMAC computed independently: "<t>.<body>" with the secret.
        const t = /^t=(\d+),/.exec(r.signature)![1];
        const v1 = crypto.createHmac('sha256', SECRET).update(`${t}.${r.body}`).digest('hex');
        expect(r.signature).toBe(`t=${t},v1=${v1}`);
        expect(verifyWebhook('another-secret'.padEnd(40, 'x'), r.body, r.signature, nowS)).toBe(false);
        expect(verifyWebhook(SECRET, r.body.replace('12.34', '99.99'), r.signature, nowS)).toBe(false);
        expect(r.eventId).toBe('hooli:2026-09/MF-2026-000901/INVOICE_FINALIZED');
        expect(JSON.parse(r.body)).toMatchObject({
          event: 'invoice.finalized',
          number: 'MF-2026-000901',
          total: '12.34',
        });
      }

      const states = await noticeStates(es, names, doc.invoice_id);
      expect(states.map((s) => [s.channel, s.state, s.attempts, s.last_error])).toEqual([
        ['kafka', 'delivered', 1, null],
        ['webhook', 'delivered', 2, null],
      ]);
    } finally {
      await hook.close();
    }
  });

  it('a webhook that keeps failing is given up after max_attempts and recorded; nothing throws', async () => {
    const hook = await server(100);
    try {
      const config = { ...configFor([hook.url], 3), invoice: { ...configFor([hook.url], 3).invoice } };
      config.invoice.notices = { ...config.invoice.notices, kafka: false };
      const doc = finalized('globex', 'MF-2026-000902');
      await expect(
        announceResults(config, es, names, logger, [
          {
            invoice_id: doc.invoice_id,
            customer: 'globex',
            period: doc.period,
            outcome: 'written',
            invoice: doc,
            error: null,
          },
        ]),
      ).resolves.toBeUndefined();
      expect(hook.received).toHaveLength(3);
      const states = await noticeStates(es, names, doc.invoice_id);
      expect(states.map((s) => [s.channel, s.state, s.attempts, s.last_error])).toEqual([
        ['webhook', 'failed', 3, 'HTTP 500'],
      ]);
      // The log names the origin only, never the path (it may hold a token).
      const warned = logLines.filter((l) => l.includes('invoice webhook'));
      expect(warned.length).toBeGreaterThan(0);
      expect(warned.join('\n')).not.toContain('/hooks/billing');
    } finally {
      await hook.close();
    }
  });
});
