import { createReadStream, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import {
  closeTarget,
  fileTarget,
  LineWriter,
  USAGE_RECORD_FIELDS,
  usageRecordLine,
  validUsageRecordLine,
} from '../../../../processors/offline/output';
import { AvroTypes } from '../../../../schemas';
import type { UsageRecord } from '../../../../schemas/types.generated';
import { usageRecord } from '../../../support/usage-record';

/** The reference: every schema field in schema order, each value through JSON.stringify, absent as null. */
function reference(record: UsageRecord): string {
  const source = record as unknown as Record<string, unknown>;
  const parts = USAGE_RECORD_FIELDS.map((f) => {
    const v = source[f];
    return `${JSON.stringify(f)}:${v === undefined || v === null ? 'null' : JSON.stringify(v)}`;
  });
  return `{${parts.join(',')}}\n`;
}

const TRICKY = [
  'plain',
  'with "quotes"',
  'back\\slash',
  'tab\tnew\nline\r',
  '\u0000\u001f\u007f',
  'Tōkyō 東京',
  'emoji 😀',
  'lone \ud800 surrogate',
  'lone \udc00 low',
  '\u2028\u2029',
  '',
];

describe('usageRecordLine', () => {
  it('writes the schema fields in order with JSON-escaped values, whatever the text', () => {
    for (const text of TRICKY) {
      const r = usageRecord({
        ChargeDescription: text,
        ResourceId: text,
        Tags: { [text]: text, 'user:team': 'a"b' },
        x_SourceLine: 123456,
      });
      expect(usageRecordLine(r)).toBe(reference(r));
      expect(JSON.parse(usageRecordLine(r))).toEqual(JSON.parse(JSON.stringify(r)));
    }
  });

  it('gives the reference line for records the fast path refuses', () => {
    const base = usageRecord({ BilledCost: '1.5' });
    const { x_RecordId, ...rest } = base;
    const reordered = { x_RecordId, ...rest } as UsageRecord;
    const { Tags: _tags, ...noTags } = base;
    const variants: unknown[] = [
      reordered,
      { ...base, extra: 'field' },
      noTags,
      { ...base, SkuId: undefined },
      { ...base, x_SourceLine: '2' },
      { ...base, BilledCost: 1.5 },
      { ...base, Tags: { a: 1 } },
      { ...base, Tags: [] },
    ];
    for (const v of variants) {
      const r = v as UsageRecord;
      expect(validUsageRecordLine(r)).toBeUndefined();
      expect(usageRecordLine(r)).toBe(reference(r));
    }
  });

  it('takes the fast path only for records that fit the Avro schema', () => {
    const base = usageRecord();
    expect(validUsageRecordLine(base)).toBe(reference(base));
    const mutations: Array<(r: Record<string, unknown>) => void> = [
      (r) => (r.ProviderName = null),
      (r) => (r.BillingAccountId = 5),
      (r) => (r.x_SourceLine = 1.5),
      (r) => (r.x_SourceLine = Number.MAX_SAFE_INTEGER),
      (r) => (r.x_SourceLine = NaN),
      (r) => (r.Tags = null),
      (r) => (r.Tags = { k: null }),
      (r) => (r.Tags = { toJSON: () => 'x' }),
      (r) => (r.toJSON = () => ({})),
      (r) => delete r.x_ExchangeRate,
      (r) => (r.x_ExchangeRate = undefined),
    ];
    // Every mutation breaks the schema (avsc says so) or the layout: none may take the fast path.
    for (const mutate of mutations) {
      const r = { ...base } as unknown as Record<string, unknown>;
      mutate(r);
      expect(validUsageRecordLine(r as unknown as UsageRecord)).toBeUndefined();
      if (AvroTypes.usageRecord.isValid(r))
        expect(usageRecordLine(r as unknown as UsageRecord)).toBe(reference(r as unknown as UsageRecord));
    }
  });
});

/** A writable that keeps every chunk it is given, as a Buffer, without copying it. */
class Keeper extends Writable {
  chunks: Buffer[] = [];
  constructor() {
    super({ highWaterMark: 1024 });
  }
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.chunks.push(chunk);
    setImmediate(cb);
  }
}

const lines = (n: number): string[] =>
  Array.from({ length: n }, (_, i) => `${'é😀x'.repeat(i % 50)}${String(i).padStart(7, '0')}\n`);

describe('LineWriter', () => {
  it('writes every line in order, including lines larger than a chunk', async () => {
    const sink = new Keeper();
    const w = new LineWriter(sink);
    const input = [...lines(30_000), `${'y'.repeat(700_000)}\n`, ...lines(10), `${'z'.repeat(2_000_000)}\n`];
    for (const l of input) await w.write(l);
    await w.flush();
    // The sink kept the chunks themselves: without reuse, none was overwritten afterwards.
    expect(Buffer.concat(sink.chunks).toString('utf8')).toBe(input.join(''));
  });

  it('push() asks for a flush once a chunk is full, and loses nothing when not flushed', async () => {
    const sink = new Keeper();
    const w = new LineWriter(sink);
    const input = lines(20_000);
    let asks = 0;
    for (const l of input) if (w.push(l)) asks++;
    expect(asks).toBeGreaterThan(0);
    await w.flush();
    expect(Buffer.concat(sink.chunks).toString('utf8')).toBe(input.join(''));
  });

  it('reuses its buffers on a file stream and the file holds every line', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'meterflow-output-'));
    try {
      const path = join(dir, 'out.ndjson');
      const target = fileTarget(path);
      const input = [...lines(60_000), `${'q'.repeat(400_000)}\n`, ...lines(5_000)];
      for (const l of input) {
        if (target.writer.push(l)) await target.writer.flush();
      }
      await closeTarget(target);
      expect(readFileSync(path, 'utf8')).toBe(input.join(''));
      // Read back as a stream too (the file is complete once renamed).
      let size = 0;
      for await (const c of createReadStream(path)) size += (c as Buffer).length;
      expect(size).toBe(Buffer.byteLength(input.join('')));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
