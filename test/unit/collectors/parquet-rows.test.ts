import {
  PARQUET_FOOTER_PREFETCH,
  RangeSource,
  readParquetRows,
} from '../../../collectors/formats/parquet-rows';
import type { MapLine } from '../../../collectors/formats/rows';
import { Decimal, decimalToString } from '../../../schemas/decimal';
import { ErrorCodes, PermanentError } from '../../../runtime/errors';
import { readFixture } from '../../support/fixtures';

/** The bytes of a Parquet fixture (test/fixtures/parquet). */
const parquet = (name: string): Buffer => readFixture('parquet', name);

/** An in-memory ranged reader that records every request. */
function rangeSource(bytes: Buffer): RangeSource & { reads: [number, number][] } {
  const reads: [number, number][] = [];
  return {
    reads,
    byteLength: bytes.length,
    slice: async (start: number, end: number) => {
      reads.push([start, end]);
      const part = bytes.subarray(start, end);
      return part.buffer.slice(part.byteOffset, part.byteOffset + part.length) as ArrayBuffer;
    },
  };
}

async function collect(gen: AsyncGenerator<MapLine>): Promise<MapLine[]> {
  const out: MapLine[] = [];
  for await (const r of gen) out.push(r);
  return out;
}

async function expectUnreadable(promise: Promise<unknown>, object: string): Promise<PermanentError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(PermanentError);
  const pe = err as PermanentError;
  expect(pe.code).toBe(ErrorCodes.UNREADABLE_OBJECT);
  expect(pe.retryable).toBe(false);
  expect(pe.message.startsWith(`${object}: `)).toBe(true);
  return pe;
}

const ROW1 = {
  identity_line_item_id: 'li-0001',
  line_item_usage_start_date: '2024-03-01T00:00:00Z',
  line_item_usage_end_date: '2024-03-01T01:00:00Z',
  line_item_unblended_cost: '0.00001385',
  line_item_usage_amount: '0.30000000000000004',
  line_item_blended_rate: '0.1',
  pricing_public_on_demand_cost: '12345678901234567890.123456789',
  cost_small_decimal: '-12.34',
  cost_mid_decimal: '123456789012.000001',
  big_numeric: '-0.00000000000000000000000000000000000001',
  line_item_usage_account_id: '9007199254740993',
  usage_count: '-7',
  is_estimated: 'true',
  bill_billing_period_start_date: '2024-03-01',
  export_time: '2024-03-02T01:11:12.066001Z',
  nanos_time: '2024-03-01T00:00:00.123456789Z',
  line_item_line_item_description: '$0.0000138 per GB - ü',
  resource_tags: '{"user_env":"prod","user_team":"billing"}',
  product: '{"product_name":"Amazon S3","region":"us-east-1"}',
  'service.id': '6F81-5844-456A',
  'service.description': 'Compute Engine',
  labels: '[{"key":"env","value":"prod"},{"key":"env","value":"dup"}]',
  credits:
    '[{"name":"Sustained use","amount":-0.000005,"exact":-0.000005},{"name":"Promo","amount":-1234.5,"exact":-1234.5}]',
  raw_bytes: 'AP8Q',
};

const ROW2 = {
  identity_line_item_id: 'li-0002',
  line_item_usage_start_date: '2024-03-01T01:00:00Z',
  line_item_usage_end_date: '2024-03-01T02:00:00Z',
  line_item_unblended_cost: '-12.5',
  line_item_usage_amount: '1000000000000000000000',
  line_item_blended_rate: '0',
  pricing_public_on_demand_cost: '-0.000000001',
  cost_small_decimal: '0',
  cost_mid_decimal: '-0.000001',
  big_numeric: '12345678901234567890123456789012345678.12345678901234567890123456789012345678',
  line_item_usage_account_id: '-9223372036854775808',
  usage_count: '2147483647',
  is_estimated: 'false',
  bill_billing_period_start_date: '1969-12-31',
  export_time: '2024-03-02T01:11:12Z',
  nanos_time: '1969-12-31T23:59:59.999999999Z',
  // line_item_line_item_description is '' and product, credits, service.description are null: omitted.
  resource_tags: '{}',
  'service.id': '6F81-5844-456A',
  labels: '[]',
  raw_bytes: 'plain text',
};

describe('readParquetRows: values', () => {
  test('CUR 2.0-like snappy file: exact text for every type, flattening, null omission, row numbers', async () => {
    const rows = await collect(
      readParquetRows(rangeSource(parquet('cur2-sample.snappy.parquet')), { object: 's3://b/cur2.parquet' }),
    );
    expect(rows).toEqual([
      { kind: 'row', line: 1, columns: ROW1 },
      { kind: 'row', line: 2, columns: ROW2 },
      { kind: 'row', line: 3, columns: { identity_line_item_id: 'li-0003' } },
    ]);
  });

  test.each([
    ['cur2-sample.zstd.parquet', 'ZSTD'],
    ['cur2-sample.gzip.parquet', 'GZIP'],
    ['cur2-sample.int-decimals.parquet', 'uncompressed, decimals stored as INT32 / INT64'],
  ])('%s (%s) reads to the same rows', async (name) => {
    const rows = await collect(readParquetRows(rangeSource(parquet(name)), { object: name }));
    expect(rows).toEqual([
      { kind: 'row', line: 1, columns: ROW1 },
      { kind: 'row', line: 2, columns: ROW2 },
      { kind: 'row', line: 3, columns: { identity_line_item_id: 'li-0003' } },
    ]);
  });

  test('a string that is not UTF-8 makes only its row malformed', async () => {
    const rows = await collect(
      readParquetRows(rangeSource(parquet('invalid-utf8.parquet')), { object: 'gs://b/x.parquet' }),
    );
    expect(rows).toHaveLength(3);
    expect(rows[0]).toEqual({ kind: 'row', line: 1, columns: { id: 'a', name: 'ok' } });
    expect(rows[1]).toMatchObject({ kind: 'malformed', line: 2, field: 'name' });
    expect((rows[1] as { message: string }).message).toContain('not valid UTF-8');
    expect(rows[2]).toEqual({ kind: 'row', line: 3, columns: { id: 'c', name: 'fine' } });
  });

  test('a file with no rows yields nothing', async () => {
    const rows = await collect(readParquetRows(rangeSource(parquet('empty.parquet')), { object: 'empty' }));
    expect(rows).toEqual([]);
  });
});

describe('readParquetRows: streaming by row group', () => {
  const bytes = parquet('multi-row-group.parquet');

  test('reads 2000 rows in order from 4 row groups, never the whole file in one request', async () => {
    const src = rangeSource(bytes);
    let n = 0;
    let readsAfterFirstRow: [number, number][] | undefined;
    for await (const r of readParquetRows(src, { object: 'multi' })) {
      n++;
      if (n === 1) readsAfterFirstRow = [...src.reads];
      expect(r.kind).toBe('row');
      if (r.kind !== 'row') continue;
      expect(r.line).toBe(n);
      expect(r.columns.id).toBe(`row-${String(n).padStart(5, '0')}`);
      expect(r.columns.n).toBe(String(n));
      // (n / 1000) as a double, written back as its shortest decimal text, is exactly n / 1000.
      expect(r.columns.cost).toBe(decimalToString(new Decimal(n).div(1000)));
    }
    expect(n).toBe(2000);

    const sizes = src.reads.map(([s, e]) => e - s);
    expect(bytes.length).toBeGreaterThan(2 * PARQUET_FOOTER_PREFETCH);
    // Each request is at most about one row group (~40 KB of a 165 KB file) or the footer prefetch.
    for (const size of sizes) expect(size).toBeLessThanOrEqual(PARQUET_FOOTER_PREFETCH);
    expect(Math.max(...sizes)).toBeLessThan(bytes.length / 2);
    // Footer plus at least one request per row group.
    expect(src.reads.length).toBeGreaterThanOrEqual(5);
    // Lazy: when the first row arrives only the footer prefetch and the first group (~1/4) were read.
    const readBeforeFirstRow = (readsAfterFirstRow ?? []).reduce((acc, [s, e]) => acc + e - s, 0);
    expect(readBeforeFirstRow).toBeLessThan(PARQUET_FOOTER_PREFETCH + bytes.length / 3);
    const total = src.reads.reduce((acc, [s, e]) => acc + e - s, 0);
    expect(total).toBeGreaterThan(bytes.length * 0.9);
  });

  test('stopping early reads no further row groups', async () => {
    const src = rangeSource(bytes);
    for await (const r of readParquetRows(src, { object: 'multi' })) {
      expect(r.line).toBe(1);
      break;
    }
    const readsAtBreak = src.reads.length;
    const bytesAtBreak = src.reads.reduce((acc, [s, e]) => acc + e - s, 0);
    expect(bytesAtBreak).toBeLessThan(PARQUET_FOOTER_PREFETCH + bytes.length / 3);
    await new Promise((resolve) => setImmediate(resolve));
    expect(src.reads.length).toBe(readsAtBreak);
  });
});

describe('readParquetRows: unreadable input', () => {
  const good = parquet('cur2-sample.snappy.parquet');

  test('truncated file (footer cut off) -> UNREADABLE_OBJECT naming the object', async () => {
    const err = await expectUnreadable(
      collect(
        readParquetRows(rangeSource(good.subarray(0, good.length - 100)), { object: 's3://b/cut.parquet' }),
      ),
      's3://b/cut.parquet',
    );
    expect(err.details.object).toBe('s3://b/cut.parquet');
  });

  test('file missing its head (data pages gone, footer intact) -> UNREADABLE_OBJECT', async () => {
    const multi = parquet('multi-row-group.parquet');
    await expectUnreadable(
      collect(readParquetRows(rangeSource(multi.subarray(50_000)), { object: 'gs://b/head-cut.parquet' })),
      'gs://b/head-cut.parquet',
    );
  });

  test('corrupt data pages -> UNREADABLE_OBJECT', async () => {
    const corrupt = Buffer.from(parquet('multi-row-group.parquet'));
    corrupt.fill(0xff, 4, 20_000);
    await expectUnreadable(
      collect(readParquetRows(rangeSource(corrupt), { object: 'az://c/corrupt.parquet' })),
      'az://c/corrupt.parquet',
    );
  });

  test('not a Parquet file at all, and a tiny object -> UNREADABLE_OBJECT', async () => {
    const text = Buffer.from('identity_line_item_id,cost\nli-1,1.5\n'.repeat(20));
    await expectUnreadable(collect(readParquetRows(rangeSource(text), { object: 'x.parquet' })), 'x.parquet');
    await expectUnreadable(
      collect(readParquetRows(rangeSource(Buffer.from('PAR1')), { object: 'tiny.parquet' })),
      'tiny.parquet',
    );
  });

  test('a ranged read that returns fewer bytes than asked -> UNREADABLE_OBJECT', async () => {
    const src = rangeSource(good);
    const short: RangeSource = {
      byteLength: src.byteLength,
      slice: async (s, e) => (await src.slice(s, e)).slice(0, Math.max(0, e - s - 1)),
    };
    await expectUnreadable(collect(readParquetRows(short, { object: 'short.parquet' })), 'short.parquet');
  });

  test('errors of the range reader itself are rethrown unchanged (retryable network errors)', async () => {
    const network = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
    const failing: RangeSource = {
      byteLength: good.length,
      slice: async () => {
        throw network;
      },
    };
    await expect(collect(readParquetRows(failing, { object: 'net.parquet' }))).rejects.toBe(network);
  });
});
