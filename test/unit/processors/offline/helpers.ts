import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Writable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { Decimal, decimalToString, parseDecimal } from '../../../../schemas/decimal';
import { fixture } from '../../../support/fixtures';

export const EXAMPLE_BOOK = fixture('price', 'pricebook.example.yaml');

/** UsageRecord field names, read straight from the schema file (not through the code under test). */
export const AVSC_FIELDS: string[] = (
  JSON.parse(
    readFileSync(join(__dirname, '..', '..', '..', '..', 'schemas', 'usage-record.avsc'), 'utf8'),
  ) as {
    fields: Array<{ name: string }>;
  }
).fields.map((f) => f.name);

export function put(root: string, key: string, body: string | Buffer): void {
  const path = join(root, ...key.split('/'));
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, body);
}

export function csv(rows: Array<Record<string, string>>): string {
  const header = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const quote = (v: string) => (/[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);
  return (
    [header.join(','), ...rows.map((r) => header.map((h) => quote(r[h] ?? '')).join(','))].join('\n') + '\n'
  );
}

export const gz = (text: string | Buffer): Buffer =>
  gzipSync(typeof text === 'string' ? Buffer.from(text) : text);

/** Exact sum of decimal texts (blank = 0), as canonical text. */
export function sum(values: Array<string | null | undefined>): string {
  let total = new Decimal(0);
  for (const v of values) {
    if (v === undefined || v === null || v.trim() === '') continue;
    const d = parseDecimal(v);
    if (d === undefined) throw new Error(`not a decimal: ${v}`);
    total = total.plus(d);
  }
  return decimalToString(total);
}

export function readNdjson(path: string): Array<Record<string, unknown>> {
  const text = readFileSync(path, 'utf8');
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** A writable that keeps what is written (for --out - and the summary). */
export class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.text += chunk.toString('utf8');
    cb();
  }
}

// ---------------------------------------------------------------------------------------------
// Generated export content

/** CUR 2.0 (Data Exports) rows: snake_case columns, product / resource_tags as JSON maps. */
export function cur2Row(o: {
  id: string;
  product: string;
  type?: string;
  cost: string;
  tags?: Record<string, string>;
  usageType?: string;
  unit?: string;
  day?: number;
}): Record<string, string> {
  const day = String(o.day ?? 3).padStart(2, '0');
  return {
    identity_line_item_id: o.id,
    identity_time_interval: `2026-03-${day}T00:00:00Z/2026-03-${day}T01:00:00Z`,
    bill_bill_type: 'Anniversary',
    bill_billing_period_start_date: '2026-03-01T00:00:00Z',
    bill_billing_period_end_date: '2026-04-01T00:00:00Z',
    bill_payer_account_id: '111111111111',
    line_item_usage_account_id: '222222222222',
    line_item_line_item_type: o.type ?? 'Usage',
    line_item_usage_start_date: `2026-03-${day}T00:00:00Z`,
    line_item_usage_end_date: `2026-03-${day}T01:00:00Z`,
    line_item_product_code: o.product,
    line_item_usage_type: o.usageType ?? 'USE1-BoxUsage:m5.large',
    line_item_usage_amount: '1',
    line_item_unblended_rate: o.cost,
    line_item_unblended_cost: o.cost,
    line_item_currency_code: 'USD',
    pricing_unit: o.unit ?? 'Hrs',
    product: JSON.stringify({ region: 'us-east-1', product_name: o.product }),
    resource_tags: JSON.stringify(o.tags ?? {}),
  };
}

/** One BigQuery standard-export row as EXPORT DATA (format JSON) writes it. */
export function gcpJsonLine(o: {
  cost: string;
  credits?: string[];
  service: string;
  project: string;
  hour: number;
}): string {
  const hh = String(o.hour).padStart(2, '0');
  const end = String(o.hour + 1).padStart(2, '0');
  // Numbers are written as JSON numbers, with digits a JS double could not hold.
  return (
    `{"billing_account_id":"01A2B3-C4D5E6-F7A8B9","service":{"id":"6F81-5844-456A","description":"${o.service}"},` +
    `"sku":{"id":"D973-5D65-BAB2","description":"N1 Predefined Instance Core"},` +
    `"usage_start_time":"2024-03-04 ${hh}:00:00 UTC","usage_end_time":"2024-03-04 ${end}:00:00 UTC",` +
    `"project":{"id":"${o.project}","name":"${o.project}","labels":[]},"labels":[],"system_labels":[],` +
    `"location":{"location":"us-central1","country":"US","region":"us-central1"},` +
    `"export_time":"2024-03-04 12:00:00 UTC","cost":${o.cost},"currency":"USD","currency_conversion_rate":1,` +
    `"usage":{"amount":3600,"unit":"seconds","amount_in_pricing_units":1,"pricing_unit":"hour"},` +
    `"credits":[${(o.credits ?? []).map((a, i) => `{"name":"c${i}","amount":${a},"type":"SUSTAINED_USAGE_DISCOUNT","id":"c${i}","full_name":"c${i}"}`).join(',')}],` +
    `"invoice":{"month":"202403"},"cost_type":"regular"}\n`
  );
}
