import { Readable } from 'node:stream';
import zlib from 'node:zlib';
import avro from 'avsc';
import { readAvroRows } from '../../../collectors/formats/avro-rows';
import type { MapLine } from '../../../collectors/formats/rows';
import { Decimal, decimalToString } from '../../../schemas/decimal';
import { ErrorCodes, PermanentError } from '../../../runtime/errors';

// Fixtures are written here with avsc's own encoder (BlockEncoder), the layout BigQuery
// EXPORT DATA (format='AVRO') produces: nullable fields as ["null", T] unions, STRUCT as records,
// REPEATED as arrays, NUMERIC as bytes decimal(38,9), TIMESTAMP as long timestamp-micros.

/** Writer-side `long` as bigint, so values above 2^53 can be written. */
const BIG_LONG = avro.types.LongType.__with({
  fromBuffer: (buf: Buffer) => buf.readBigInt64LE(),
  toBuffer: (n: bigint) => {
    const buf = Buffer.alloc(8);
    buf.writeBigInt64LE(BigInt(n));
    return buf;
  },
  fromJSON: (v: unknown) => BigInt(v as string),
  toJSON: (n: bigint) => n.toString(),
  isValid: (n: unknown) => typeof n === 'bigint',
  compare: (a: bigint, b: bigint) => (a === b ? 0 : a < b ? -1 : 1),
});

/** Minimal big-endian two's complement bytes of an unscaled decimal (Avro decimal encoding). */
function decimalBytes(unscaled: bigint): Buffer {
  let len = 1;
  while (unscaled < -(1n << BigInt(len * 8 - 1)) || unscaled >= 1n << BigInt(len * 8 - 1)) len++;
  const v = unscaled < 0n ? (1n << BigInt(len * 8)) + unscaled : unscaled;
  return Buffer.from(v.toString(16).padStart(len * 2, '0'), 'hex');
}

/** A valid (literal-only) raw snappy encoding: varint length, then literal runs of <= 65536 bytes. */
function snappyLiteral(data: Buffer): Buffer {
  const out: number[] = [];
  let n = data.length;
  do {
    out.push((n & 0x7f) | (n > 0x7f ? 0x80 : 0));
    n = Math.floor(n / 128);
  } while (n > 0);
  const parts: Buffer[] = [Buffer.from(out)];
  for (let i = 0; i < data.length; i += 65536) {
    const run = data.subarray(i, i + 65536);
    const len = run.length - 1;
    parts.push(Buffer.from([61 << 2, len & 0xff, len >> 8]), run);
  }
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(zlib.crc32(new Uint8Array(data.buffer, data.byteOffset, data.length)));
  return Buffer.concat([...parts, crc]);
}

const nullable = (t: unknown) => ['null', t];
const SCHEMA = {
  type: 'record',
  name: 'Root',
  fields: [
    { name: 'billing_account_id', type: nullable('string') },
    {
      name: 'service',
      type: nullable({
        type: 'record',
        name: 'service',
        fields: [
          { name: 'id', type: nullable('string') },
          { name: 'description', type: nullable('string') },
        ],
      }),
    },
    { name: 'usage_start_time', type: nullable({ type: 'long', logicalType: 'timestamp-micros' }) },
    { name: 'cost', type: nullable('double') },
    { name: 'usage_amount', type: nullable('float') },
    {
      name: 'cost_numeric',
      type: nullable({ type: 'bytes', logicalType: 'decimal', precision: 38, scale: 9 }),
    },
    {
      name: 'labels',
      type: {
        type: 'array',
        items: {
          type: 'record',
          name: 'labels',
          fields: [
            { name: 'key', type: nullable('string') },
            { name: 'value', type: nullable('string') },
          ],
        },
      },
    },
    {
      name: 'credits',
      type: {
        type: 'array',
        items: {
          type: 'record',
          name: 'credits',
          fields: [
            { name: 'name', type: nullable('string') },
            { name: 'amount', type: nullable('double') },
            {
              name: 'exact',
              type: nullable({ type: 'bytes', logicalType: 'decimal', precision: 38, scale: 9 }),
            },
          ],
        },
      },
    },
    { name: 'project_number', type: nullable('long') },
    { name: 'usage_date', type: nullable({ type: 'int', logicalType: 'date' }) },
    { name: 'tags', type: nullable({ type: 'map', values: 'string' }) },
    { name: 'is_free', type: nullable('boolean') },
    { name: 'export_time', type: { type: 'long', logicalType: 'timestamp-micros' } },
  ],
};

type Rec = Record<string, unknown>;

const FULL: Rec = {
  billing_account_id: '01ABCD-234567-89EFGH',
  service: { id: '6F81-5844-456A', description: 'Compute Engine' },
  usage_start_time: 1_709_251_200_000_000n, // 2024-03-01T00:00:00Z
  cost: 1.385e-5,
  usage_amount: Math.fround(0.1),
  cost_numeric: decimalBytes(12345678901234567890123456789n),
  labels: [
    { key: 'env', value: 'prod' },
    { key: 'team', value: null },
  ],
  credits: [{ name: 'SUD', amount: -5e-6, exact: decimalBytes(-5000n) }],
  project_number: 9_007_199_254_740_993n,
  usage_date: 19783, // 2024-03-01
  tags: { 'k/x': 'v', n: '1' },
  is_free: false,
  export_time: 1_709_341_872_066_001n, // 2024-03-02T01:11:12.066001Z
};

const FULL_COLUMNS = {
  billing_account_id: '01ABCD-234567-89EFGH',
  'service.id': '6F81-5844-456A',
  'service.description': 'Compute Engine',
  usage_start_time: '2024-03-01T00:00:00Z',
  cost: '0.00001385',
  usage_amount: '0.1',
  cost_numeric: '12345678901234567890.123456789',
  labels: '[{"key":"env","value":"prod"},{"key":"team","value":null}]',
  credits: '[{"name":"SUD","amount":-0.000005,"exact":-0.000005}]',
  project_number: '9007199254740993',
  usage_date: '2024-03-01',
  tags: '{"k/x":"v","n":"1"}',
  is_free: 'false',
  export_time: '2024-03-02T01:11:12.066001Z',
};

const CREDIT_ROW: Rec = {
  billing_account_id: '',
  service: null,
  usage_start_time: null,
  cost: -12.5,
  usage_amount: null,
  cost_numeric: decimalBytes(-1n),
  labels: [],
  credits: [],
  project_number: -9_223_372_036_854_775_808n,
  usage_date: null,
  tags: null,
  is_free: null,
  export_time: -1n,
};

const CREDIT_COLUMNS = {
  cost: '-12.5',
  cost_numeric: '-0.000000001',
  labels: '[]',
  credits: '[]',
  project_number: '-9223372036854775808',
  export_time: '1969-12-31T23:59:59.999999Z',
};

function writerType(): avro.Type {
  // The object form {"type": "long", ...} (timestamps) bypasses the registry: map it too.
  return avro.Type.forSchema(SCHEMA as avro.Schema, {
    registry: { long: BIG_LONG },
    typeHook: (s: unknown) => ((s as { type?: unknown })?.type === 'long' ? BIG_LONG : undefined),
  });
}

async function encode(
  records: Rec[],
  opts: { codec?: string; blockSize?: number; codecs?: Record<string, unknown> } = {},
): Promise<Buffer> {
  const encoder = new avro.streams.BlockEncoder(writerType(), {
    codec: opts.codec ?? 'deflate',
    ...(opts.blockSize ? { blockSize: opts.blockSize } : {}),
    ...(opts.codecs ? { codecs: opts.codecs } : {}),
  } as never);
  // Built from a Type (for bigint longs), avsc would write the Type's schema, which lost the
  // logicalType attributes of the timestamp longs: write the full schema to the header instead.
  (encoder as unknown as { _schema: unknown })._schema = SCHEMA;
  const chunks: Buffer[] = [];
  const done = new Promise<void>((resolve, reject) => {
    encoder.on('data', (c: Buffer) => chunks.push(c));
    encoder.on('end', resolve);
    encoder.on('error', reject);
  });
  for (const r of records) encoder.write(r);
  encoder.end();
  await done;
  return Buffer.concat(chunks);
}

/** A readable that delivers `bytes` in chunks of `size` bytes (odd sizes split varints and blocks). */
function chunked(bytes: Buffer, size = 7): Readable {
  const parts: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += size) parts.push(bytes.subarray(i, i + size));
  return Readable.from(parts);
}

async function collect(gen: AsyncGenerator<MapLine>): Promise<MapLine[]> {
  const out: MapLine[] = [];
  for await (const r of gen) out.push(r);
  return out;
}

async function unreadable(promise: Promise<unknown>, object: string): Promise<PermanentError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(PermanentError);
  const pe = err as PermanentError;
  expect(pe.code).toBe(ErrorCodes.UNREADABLE_OBJECT);
  expect(pe.message.startsWith(`${object}: `)).toBe(true);
  return pe;
}

describe('readAvroRows', () => {
  test('deflate container: decimal bytes, timestamp-micros, doubles, longs, records, arrays, maps', async () => {
    const bytes = await encode([FULL, CREDIT_ROW]);
    expect(bytes.includes(Buffer.from('deflate'))).toBe(true);
    const rows = await collect(readAvroRows(chunked(bytes), { object: 'gs://b/export-000.avro' }));
    expect(rows).toEqual([
      { kind: 'row', line: 1, columns: FULL_COLUMNS },
      { kind: 'row', line: 2, columns: CREDIT_COLUMNS },
    ]);
  });

  test('snappy container (raw snappy + CRC-32 per block) reads to the same rows', async () => {
    const bytes = await encode([FULL, CREDIT_ROW], {
      codec: 'snappy',
      codecs: {
        snappy: (buf: Buffer, cb: (err: Error | null, out?: Buffer) => void) => cb(null, snappyLiteral(buf)),
      },
    });
    const rows = await collect(readAvroRows(chunked(bytes, 1000), { object: 'snappy.avro' }));
    expect(rows).toEqual([
      { kind: 'row', line: 1, columns: FULL_COLUMNS },
      { kind: 'row', line: 2, columns: CREDIT_COLUMNS },
    ]);
  });

  test('uncompressed (null codec), many small blocks: record numbering runs across blocks', async () => {
    const records = Array.from({ length: 300 }, (_, i) => ({
      ...CREDIT_ROW,
      billing_account_id: `acct-${i + 1}`,
      cost_numeric: decimalBytes(BigInt(i + 1) * 10n ** 8n), // (i + 1) / 10
    }));
    const bytes = await encode(records, { codec: 'null', blockSize: 256 });
    const rows = await collect(readAvroRows(chunked(bytes, 13), { object: 'many.avro' }));
    expect(rows).toHaveLength(300);
    rows.forEach((r, i) => {
      expect(r).toMatchObject({ kind: 'row', line: i + 1 });
      if (r.kind !== 'row') return;
      expect(r.columns.billing_account_id).toBe(`acct-${i + 1}`);
      expect(r.columns.cost_numeric).toBe(decimalToString(new Decimal(i + 1).div(10)));
    });
  });

  test('a value that cannot become text makes only that record malformed', async () => {
    const bad = { ...FULL, export_time: 2n ** 63n - 1n }; // far outside the Date range
    const bytes = await encode([CREDIT_ROW, bad, CREDIT_ROW]);
    const rows = await collect(readAvroRows(chunked(bytes), { object: 'bad.avro' }));
    expect(rows.map((r) => r.kind)).toEqual(['row', 'malformed', 'row']);
    expect(rows[1]).toMatchObject({ kind: 'malformed', line: 2, field: 'export_time' });
    expect((rows[1] as { message: string }).message).toContain('out of range');
    expect(rows[2]).toEqual({ kind: 'row', line: 3, columns: CREDIT_COLUMNS });
  });

  test('timestamps beyond 2^53 micros (BigQuery max 9999-12-31) stay exact', async () => {
    const max = { ...CREDIT_ROW, export_time: 253_402_300_799_999_999n };
    const rows = await collect(readAvroRows(chunked(await encode([max])), { object: 'max.avro' }));
    expect(rows).toEqual([
      { kind: 'row', line: 1, columns: { ...CREDIT_COLUMNS, export_time: '9999-12-31T23:59:59.999999Z' } },
    ]);
  });

  test('stopping early destroys the source', async () => {
    const bytes = await encode(
      Array.from({ length: 50 }, () => FULL),
      { blockSize: 512 },
    );
    const source = chunked(bytes, 64);
    for await (const r of readAvroRows(source, { object: 'early.avro' })) {
      expect(r.line).toBe(1);
      break;
    }
    expect(source.destroyed).toBe(true);
  });

  test('truncated file -> UNREADABLE_OBJECT naming the object, after the complete blocks', async () => {
    const bytes = await encode(
      Array.from({ length: 40 }, () => FULL),
      { blockSize: 1024 },
    );
    const got: MapLine[] = [];
    const read = (async () => {
      for await (const r of readAvroRows(chunked(bytes.subarray(0, bytes.length - 10)), {
        object: 'gs://b/cut.avro',
      })) {
        got.push(r);
      }
    })();
    const err = await unreadable(read, 'gs://b/cut.avro');
    expect(err.message).toContain('truncated');
    expect(got.length).toBeGreaterThan(0);
    expect(got.length).toBeLessThan(40);
    // Cut inside the header.
    await unreadable(
      collect(readAvroRows(chunked(bytes.subarray(0, 30)), { object: 'head.avro' })),
      'head.avro',
    );
  });

  test('corrupt input -> UNREADABLE_OBJECT: bad magic, bad sync marker, bad deflate data', async () => {
    await unreadable(
      collect(readAvroRows(chunked(Buffer.from('{"not":"avro"}\n')), { object: 'json.avro' })),
      'json.avro',
    );
    const bytes = await encode([FULL, FULL]);
    const badSync = Buffer.from(bytes);
    badSync[badSync.length - 1] ^= 0xff;
    const e1 = await unreadable(
      collect(readAvroRows(chunked(badSync), { object: 'sync.avro' })),
      'sync.avro',
    );
    expect(e1.message).toContain('sync marker');
    // Flip bytes inside the compressed block (between header and final sync marker).
    const badData = Buffer.from(bytes);
    for (let i = badData.length - 40; i < badData.length - 20; i++) badData[i] ^= 0x5a;
    await unreadable(collect(readAvroRows(chunked(badData), { object: 'data.avro' })), 'data.avro');
  });

  test('an unsupported codec is reported by name', async () => {
    const bytes = await encode([FULL], {
      codec: 'zstandard',
      codecs: { zstandard: (buf: Buffer, cb: (err: Error | null, out?: Buffer) => void) => cb(null, buf) },
    });
    const err = await unreadable(collect(readAvroRows(chunked(bytes), { object: 'z.avro' })), 'z.avro');
    expect(err.message).toContain('unsupported Avro codec "zstandard"');
  });

  test('errors of the byte stream itself are rethrown unchanged', async () => {
    const network = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
    const bytes = await encode([FULL]);
    const source = new Readable({
      read() {
        this.push(bytes.subarray(0, 20));
        this.destroy(network);
      },
    });
    await expect(collect(readAvroRows(source, { object: 'net.avro' }))).rejects.toBe(network);
  });
});
