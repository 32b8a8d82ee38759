import { Decimal } from '../schemas/decimal';
import { EVENT_COLUMNS } from '../providers/platform/columns';
import type { IngestGrant } from '../api/auth';

/**
 * Validation of one CloudEvent (JSON format, specification 1.0) carrying first-party usage, and
 * its raw row (providers/platform/columns.ts). An event is rejected with the first problem found,
 * named by field, so the sender can fix it; the other events of its batch are judged on their own.
 *
 * Required context attributes: specversion "1.0", id, source, type (CloudEvents), and time (RFC
 * 3339; meterflow needs it to know the event's billing period). `datacontenttype`, when given, must
 * be JSON. `data` must be an object:
 *
 *   customer     the customer billed (x_CustomerId); the sending key must be granted it
 *   service      ServiceName, what the price book matches (e.g. "Deployments")
 *   unit         PricingUnit (e.g. "Hours")
 *   quantity     PricingQuantity: decimal TEXT ("2.5") for exactness; a JSON number is accepted only
 *                when it has at most 15 significant digits, so its text is the number that was sent
 *   sku          SkuId (optional)
 *   region, resource_id (optional), end_time (optional RFC 3339, >= time), tags (optional
 *                object of string values)
 */
export interface EventRejection {
  index: number;
  field: string;
  reason: string;
}

export interface ValidEvent {
  index: number;
  /** eventRecordIdOf(source, id): the idempotency key. */
  key: string;
  source: string;
  id: string;
  /** YYYY-MM of the event's time (UTC). */
  period: string;
  timeMs: number;
  customer: string;
  /** The raw row, in EVENT_COLUMNS order. */
  values: string[];
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/i;
const DECIMAL = /^-?\d+(\.\d+)?$/;
const MAX_TEXT = 1024;

class Rejected extends Error {
  constructor(
    readonly field: string,
    reason: string,
  ) {
    super(reason);
  }
}

function text(obj: Record<string, unknown>, name: string, field: string, required: boolean): string | null {
  const v = obj[name];
  if (v === undefined || v === null) {
    if (required) throw new Rejected(field, `${field} is required`);
    return null;
  }
  if (typeof v !== 'string') throw new Rejected(field, `${field} must be a string`);
  if (v.trim() === '') throw new Rejected(field, `${field} must not be empty`);
  if (v.length > MAX_TEXT) throw new Rejected(field, `${field} is longer than ${MAX_TEXT} characters`);
  return v;
}

function timeOf(value: string, field: string): number {
  const ms = RFC3339.test(value) ? Date.parse(value) : NaN;
  if (!Number.isFinite(ms))
    throw new Rejected(field, `${field} must be an RFC 3339 timestamp, got "${value}"`);
  return ms;
}

function quantityOf(v: unknown): string {
  if (typeof v === 'number') {
    const t = String(v);
    // String(n) is the shortest text that reads back as n; past 15 significant digits it may not be
    // the text the sender wrote, so exactness cannot be promised.
    if (!Number.isFinite(v) || !DECIMAL.test(t) || t.replace(/[-.]/g, '').replace(/^0+/, '').length > 15)
      throw new Rejected(
        'data.quantity',
        'data.quantity as a JSON number must be a plain decimal of at most 15 digits; send it as text',
      );
    return t;
  }
  if (typeof v !== 'string' || !DECIMAL.test(v.trim()))
    throw new Rejected('data.quantity', 'data.quantity must be decimal text such as "2.5"');
  return new Decimal(v.trim()).toFixed();
}

/** Whether a grant's source pattern (exact, or a prefix ending in *) admits `source`. */
export function sourceAllowed(patterns: readonly string[], source: string): boolean {
  return patterns.some((p) => (p.endsWith('*') ? source.startsWith(p.slice(0, -1)) : p === source));
}

export function customerAllowed(customers: readonly string[], customer: string): boolean {
  return customers.includes('*') || customers.includes(customer);
}

export interface ValidationContext {
  grant: IngestGrant;
  nowMs: number;
  maxFutureMs: number;
  currency: string;
  providerName: string;
}

/** Validates event `index` of a request; a ValidEvent or the reason it is rejected. */
export function validateEvent(
  raw: unknown,
  index: number,
  c: ValidationContext,
  keyOf: (source: string, id: string) => string,
): ValidEvent | EventRejection {
  try {
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw))
      throw new Rejected('event', 'an event must be a JSON object');
    const e = raw as Record<string, unknown>;
    if (e.specversion !== '1.0') throw new Rejected('specversion', 'specversion must be "1.0"');
    const id = text(e, 'id', 'id', true)!;
    const source = text(e, 'source', 'source', true)!;
    const type = text(e, 'type', 'type', true)!;
    const subject = text(e, 'subject', 'subject', false);
    const time = text(e, 'time', 'time', true)!;
    const timeMs = timeOf(time, 'time');
    if (timeMs > c.nowMs + c.maxFutureMs)
      throw new Rejected(
        'time',
        `time ${time} is more than ${c.maxFutureMs / 1000} s ahead of this server's clock`,
      );
    const contentType = e.datacontenttype;
    if (
      contentType !== undefined &&
      (typeof contentType !== 'string' || !/^application\/(.+\+)?json\b/i.test(contentType))
    )
      throw new Rejected('datacontenttype', 'datacontenttype must be application/json');
    if ('data_base64' in e) throw new Rejected('data_base64', 'data must be a JSON object, not data_base64');
    const data = e.data;
    if (data === null || typeof data !== 'object' || Array.isArray(data))
      throw new Rejected('data', 'data must be a JSON object with customer, service, unit and quantity');
    const d = data as Record<string, unknown>;
    const customer = text(d, 'customer', 'data.customer', true)!;
    const service = text(d, 'service', 'data.service', true)!;
    const unit = text(d, 'unit', 'data.unit', true)!;
    const quantity = quantityOf(d.quantity);
    const sku = text(d, 'sku', 'data.sku', false);
    const region = text(d, 'region', 'data.region', false);
    const resourceId = text(d, 'resource_id', 'data.resource_id', false);
    const endTime = text(d, 'end_time', 'data.end_time', false);
    if (endTime !== null && timeOf(endTime, 'data.end_time') < timeMs)
      throw new Rejected('data.end_time', 'data.end_time is before time');
    let tags = '';
    if (d.tags !== undefined && d.tags !== null) {
      if (
        typeof d.tags !== 'object' ||
        Array.isArray(d.tags) ||
        Object.values(d.tags).some((v) => typeof v !== 'string')
      )
        throw new Rejected('data.tags', 'data.tags must be an object of string values');
      tags = JSON.stringify(d.tags);
    }
    // Authorization per event: a key sends only its own sources, for its own customers.
    if (!sourceAllowed(c.grant.sources, source))
      throw new Rejected('source', `this key may not send events of source "${source}"`);
    if (!customerAllowed(c.grant.customers, customer))
      throw new Rejected('data.customer', `this key may not send usage for customer "${customer}"`);

    const row: Record<(typeof EVENT_COLUMNS)[number], string> = {
      ce_id: id,
      ce_source: source,
      ce_type: type,
      ce_subject: subject ?? '',
      ce_time: new Date(timeMs).toISOString(),
      end_time: endTime === null ? '' : new Date(Date.parse(endTime)).toISOString(),
      customer,
      service,
      sku: sku ?? '',
      unit,
      quantity,
      region: region ?? '',
      resource_id: resourceId ?? '',
      tags,
      currency: c.currency,
      billed_cost: '0',
      provider_name: c.providerName,
    };
    return {
      index,
      key: keyOf(source, id),
      source,
      id,
      period: new Date(timeMs).toISOString().slice(0, 7),
      timeMs,
      customer,
      values: EVENT_COLUMNS.map((col) => row[col]),
    };
  } catch (err) {
    if (err instanceof Rejected) return { index, field: err.field, reason: err.message };
    throw err;
  }
}
