import crypto from 'node:crypto';
import type { Client } from '@elastic/elasticsearch';
import { Decimal } from '../schemas/decimal';
import type { InvoiceEvent } from '../schemas';
import type { Logger } from '../runtime/logger';
import type { IndexNames } from '../sinks/elasticsearch/indices';
import type { InvoiceOptions } from './config';
import type { InvoiceDocument } from './types';

/**
 * Notices of finalized documents: an `invoice.finalized` event (INVOICE_FINALIZED) on
 * `<prefix>.invoice-events` (Avro, schemas/invoice-event.avsc, keyed by customer) and a signed JSON
 * POST to each configured webhook. They go out AFTER the document is stored as finalized and never
 * block or fail the finalization: every failure is caught, retried (webhooks: exponential backoff)
 * and recorded as a delivery state in `P-invoices-notices`, one document per event and target.
 *
 * Webhook signature (verify it before trusting a body): header
 *   X-Meterflow-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(webhook_secret, "<t>.<raw body>")>
 * Receivers should reject a t far from their clock (replays) and compare v1 in constant time.
 * Each attempt is signed afresh; X-Meterflow-Event-Id is the same for every copy of one event.
 */

export type NoticeOptions = InvoiceOptions['notices'];

export const SIGNATURE_HEADER = 'x-meterflow-signature';

export function invoiceEventOf(doc: InvoiceDocument): InvoiceEvent {
  const tax = (doc.taxes ?? []).reduce((a, t) => a.plus(t.amount), new Decimal(0));
  return {
    event_id: `${doc.invoice_id}/${doc.number}/INVOICE_FINALIZED`,
    type: 'INVOICE_FINALIZED',
    invoice_id: doc.invoice_id,
    number: doc.number ?? '',
    document_type: doc.document_type ?? 'invoice',
    customer: doc.customer,
    period: doc.period,
    currency: doc.currency,
    subtotal: doc.subtotal ?? doc.total,
    tax: tax.toFixed(),
    total: doc.total,
    issue_date: doc.issue_date ?? null,
    due_date: doc.due_date ?? null,
    forced_incomplete: doc.completeness_override?.reason ?? null,
    at: doc.finalized_at ?? new Date().toISOString(),
  };
}

/** The webhook body: the event as JSON, with the dotted event name. */
export function webhookBody(event: InvoiceEvent): string {
  return JSON.stringify({ event: 'invoice.finalized', ...event });
}

/** The X-Meterflow-Signature value of `body` at unix time `t`. */
export function signWebhook(secret: string, body: string, t: number): string {
  const v1 = crypto.createHmac('sha256', secret).update(`${t}.${body}`, 'utf8').digest('hex');
  return `t=${t},v1=${v1}`;
}

/** Receiver side (and tests): whether `header` is a valid signature of `body` within `toleranceS` of `now`. */
export function verifyWebhook(
  secret: string,
  body: string,
  header: string,
  nowS: number,
  toleranceS = 300,
): boolean {
  const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(header);
  if (!m) return false;
  const expected = signWebhook(secret, body, Number(m[1])).split('v1=')[1];
  const ok = crypto.timingSafeEqual(Buffer.from(expected, 'hex'), Buffer.from(m[2], 'hex'));
  return ok && Math.abs(nowS - Number(m[1])) <= toleranceS;
}

export interface DeliveryState {
  event_id: string;
  invoice_id: string;
  number: string;
  channel: 'kafka' | 'webhook';
  target: string;
  state: 'pending' | 'delivered' | 'failed';
  attempts: number;
  last_error: string | null;
  updated_at: string;
  delivered_at: string | null;
}

export function noticeIndex(names: IndexNames): string {
  return `${names.invoices}-notices`;
}

const keyword = { type: 'keyword' } as const;
const date = { type: 'date', format: 'strict_date_optional_time||epoch_millis' } as const;

export async function ensureNoticeIndex(es: Client, names: IndexNames): Promise<void> {
  const index = noticeIndex(names);
  if (await es.indices.exists({ index })) return;
  try {
    await es.indices.create({
      index,
      settings: { number_of_shards: 1, number_of_replicas: 0 },
      mappings: {
        dynamic: 'strict',
        properties: {
          event_id: keyword,
          invoice_id: keyword,
          number: keyword,
          channel: keyword,
          target: keyword,
          state: keyword,
          attempts: { type: 'integer' },
          last_error: { type: 'text' },
          updated_at: date,
          delivered_at: date,
        },
      },
    });
  } catch (err) {
    const type = (err as { meta?: { body?: { error?: { type?: string } } } }).meta?.body?.error?.type;
    if (type !== 'resource_already_exists_exception') throw err;
  }
}

function stateId(s: Pick<DeliveryState, 'event_id' | 'channel' | 'target'>): string {
  return crypto.createHash('sha256').update(`${s.event_id}\u0000${s.channel}\u0000${s.target}`).digest('hex');
}

/** Delivery states of an invoice's notices (for operators and tests). */
export async function noticeStates(
  es: Client,
  names: IndexNames,
  invoiceId: string,
): Promise<DeliveryState[]> {
  const res = await es.search<DeliveryState>({
    index: noticeIndex(names),
    ignore_unavailable: true,
    allow_no_indices: true,
    size: 1000,
    query: { term: { invoice_id: invoiceId } },
    sort: [{ channel: 'asc' }, { target: 'asc' }],
  });
  return res.hits.hits.map((h) => h._source!);
}

export interface AnnounceDeps {
  es: Client;
  names: IndexNames;
  options: NoticeOptions;
  logger: Logger;
  /** Sends events to <prefix>.invoice-events (resolves once the broker has them); absent: no Kafka event. */
  sendEvents?: (events: InvoiceEvent[]) => Promise<void>;
  fetch?: typeof fetch;
  sleep?: (ms: number) => Promise<void>;
}

/**
 * Announce finalized documents. Never throws: a notice that cannot go out is retried (webhooks)
 * and then recorded as failed, and the finalization stands either way.
 */
export async function announceFinalized(
  deps: AnnounceDeps,
  docs: InvoiceDocument[],
): Promise<DeliveryState[]> {
  const finals = docs.filter((d) => d.status === 'finalized' && d.number);
  if (finals.length === 0) return [];
  const out: DeliveryState[] = [];
  const record = async (s: DeliveryState) => {
    try {
      await deps.es.index({
        index: noticeIndex(deps.names),
        id: stateId(s),
        document: s,
        refresh: 'wait_for',
      });
    } catch (err) {
      deps.logger.warn({ err, event_id: s.event_id }, 'invoice notice: could not record the delivery state');
    }
  };
  try {
    await ensureNoticeIndex(deps.es, deps.names);
  } catch (err) {
    deps.logger.warn({ err }, 'invoice notice: no delivery-state index; notices go out unrecorded');
  }
  const events = finals.map(invoiceEventOf);
  if (deps.sendEvents && deps.options.kafka) {
    let error: string | null = null;
    try {
      await deps.sendEvents(events);
    } catch (err) {
      error = (err as Error).message;
      deps.logger.warn({ err }, 'invoice notice: the invoice-events topic did not take the events');
    }
    const now = new Date().toISOString();
    for (const e of events) {
      const s: DeliveryState = {
        event_id: e.event_id,
        invoice_id: e.invoice_id,
        number: e.number,
        channel: 'kafka',
        target: 'invoice-events',
        state: error ? 'failed' : 'delivered',
        attempts: 1,
        last_error: error,
        updated_at: now,
        delivered_at: error ? null : now,
      };
      await record(s);
      out.push(s);
    }
  }
  const deliveries: Promise<DeliveryState>[] = [];
  for (const e of events)
    for (const url of deps.options.webhook_urls) deliveries.push(deliverWebhook(deps, e, url, record));
  out.push(...(await Promise.all(deliveries)));
  return out;
}

async function deliverWebhook(
  deps: AnnounceDeps,
  event: InvoiceEvent,
  url: string,
  record: (s: DeliveryState) => Promise<void>,
): Promise<DeliveryState> {
  const o = deps.options;
  const doFetch = deps.fetch ?? fetch;
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const body = webhookBody(event);
  const state: DeliveryState = {
    event_id: event.event_id,
    invoice_id: event.invoice_id,
    number: event.number,
    channel: 'webhook',
    target: url,
    state: 'pending',
    attempts: 0,
    last_error: null,
    updated_at: new Date().toISOString(),
    delivered_at: null,
  };
  for (let attempt = 1; attempt <= o.max_attempts; attempt++) {
    if (attempt > 1) await sleep(o.initial_backoff_ms * 2 ** (attempt - 2));
    state.attempts = attempt;
    try {
      const t = Math.floor(Date.now() / 1000);
      const res = await doFetch(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          [SIGNATURE_HEADER]: signWebhook(o.webhook_secret, body, t),
          'x-meterflow-event-id': event.event_id,
        },
        body,
        signal: AbortSignal.timeout(o.timeout_ms),
      });
      // The body is not needed; reading it frees the connection.
      await res.arrayBuffer().catch(() => undefined);
      if (res.ok) {
        state.state = 'delivered';
        state.last_error = null;
        state.updated_at = state.delivered_at = new Date().toISOString();
        await record(state);
        return state;
      }
      state.last_error = `HTTP ${res.status}`;
    } catch (err) {
      state.last_error = (err as Error).message;
    }
    state.state = attempt < o.max_attempts ? 'pending' : 'failed';
    state.updated_at = new Date().toISOString();
    await record(state);
    deps.logger.warn(
      // The origin only: a webhook URL's path or query may hold a token.
      { url: new URL(url).origin, event_id: event.event_id, attempt, error: state.last_error },
      state.state === 'failed' ? 'invoice webhook: giving up' : 'invoice webhook: attempt failed; retrying',
    );
  }
  return state;
}
