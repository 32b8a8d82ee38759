import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { readCsvHeader, readCsvRows } from '../../../collectors/formats/csv-rows';
import { openDecoded } from '../../../collectors/formats/decode';
import { ErrorCodes, PermanentError } from '../../../runtime/errors';
import { fixture } from '../../support/fixtures';
import { bytesOf, collect, makeZip, readBytes, rowsOnly } from './helpers';

const plainPath = fixture('aws', 'legacy-cur', 'koku_test_cur.csv');
const gzPath = fixture('aws', 'legacy-cur', 'koku_test_cur.csv.gz');
const plain = readFileSync(plainPath);
const gz = readFileSync(gzPath);

describe('openDecoded', () => {
  it('passes plain bytes through unchanged', async () => {
    expect((await readBytes(await openDecoded(bytesOf(plain, 1000), 'a.csv'))).equals(plain)).toBe(true);
  });

  it('detects gzip by magic bytes, even when the first chunk is a single byte', async () => {
    for (const chunk of [1, 3, 4096]) {
      const out = await readBytes(await openDecoded(bytesOf(gz, chunk), 'report-1.csv'));
      expect(out.equals(plain)).toBe(true);
    }
  });

  it('decodes multi-member gzip (concatenated members) completely', async () => {
    const half = Math.floor(plain.length / 2);
    const multi = Buffer.concat([gzipSync(plain.subarray(0, half)), gzipSync(plain.subarray(half))]);
    expect((await readBytes(await openDecoded(bytesOf(multi), 'm.csv.gz'))).equals(plain)).toBe(true);
  });

  it('reports a truncated gzip as PermanentError(UNREADABLE_OBJECT) instead of ending silently', async () => {
    const truncated = gz.subarray(0, Math.floor(gz.length * 0.6));
    const stream = await openDecoded(bytesOf(truncated, 512), 's3://b/report-1.csv.gz');
    const err = await readBytes(stream).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(PermanentError);
    expect((err as PermanentError).code).toBe(ErrorCodes.UNREADABLE_OBJECT);
    expect((err as PermanentError).message).toMatch(
      /^s3:\/\/b\/report-1\.csv\.gz: truncated or corrupt gzip/,
    );
  });

  it('surfaces the truncation through the CSV reader after the rows it could read', async () => {
    const truncated = gz.subarray(0, gz.length - 40);
    const rows: number[] = [];
    const run = async (): Promise<void> => {
      const stream = await openDecoded(bytesOf(truncated, 256), 'cut.csv.gz');
      for await (const r of readCsvRows(stream, { object: 'cut.csv.gz' })) rows.push(r.line);
    };
    await expect(run()).rejects.toMatchObject({ code: ErrorCodes.UNREADABLE_OBJECT });
    expect(rows.length).toBeLessThan(19);
  });

  it('reports corrupt deflate data in a gzip', async () => {
    const corrupt = Buffer.from(gz);
    for (let i = 40; i < 400; i++) corrupt[i] ^= 0x5a;
    await expect(readBytes(await openDecoded(bytesOf(corrupt), 'bad.gz'))).rejects.toMatchObject({
      code: ErrorCodes.UNREADABLE_OBJECT,
    });
  });

  it('does not relabel a source error (e.g. a connection reset) as a corrupt gzip', async () => {
    const reset = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
    const source = new Readable({
      read() {
        this.push(gz.subarray(0, 100));
        this.destroy(reset);
      },
    });
    const err = await readBytes(await openDecoded(source, 'x.gz')).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBe(reset);
  });

  it('reads the single CSV of a legacy CUR .csv.zip', async () => {
    const zip = makeZip([{ name: 'report-1.csv', data: plain }]);
    const rows = rowsOnly(
      await collect(readCsvRows(await openDecoded(bytesOf(zip), 'r.csv.zip'), { object: 'r' })),
    );
    expect(rows).toHaveLength(19);
  });

  it('refuses a zip with more than one data file rather than reading only the first', async () => {
    const zip = makeZip([
      { name: 'a.csv', data: plain },
      { name: 'b.csv', data: plain },
    ]);
    await expect(openDecoded(bytesOf(zip), 'two.zip')).rejects.toMatchObject({
      code: ErrorCodes.UNREADABLE_OBJECT,
      message: expect.stringContaining('exactly one data file, found 2'),
    });
  });

  it('reports a zip with a broken central directory as unreadable', async () => {
    const zip = makeZip([{ name: 'a.csv', data: plain }]);
    await expect(openDecoded(bytesOf(zip.subarray(0, zip.length - 30)), 'cut.zip')).rejects.toMatchObject({
      code: ErrorCodes.UNREADABLE_OBJECT,
    });
  });

  it('returns an empty stream for an empty object', async () => {
    expect((await readBytes(await openDecoded(bytesOf(Buffer.alloc(0)), 'e.csv'))).length).toBe(0);
  });

  it('releases the source when the consumer stops after the header', async () => {
    let destroyed = false;
    const big = Buffer.concat(Array.from({ length: 200 }, () => plain));
    const source = bytesOf(gzipSync(big), 1024);
    source.on('close', () => (destroyed = true));
    const header = await readCsvHeader(await openDecoded(source, 'big.csv.gz'), { object: 'big' });
    expect(header[0]).toBe('identity/LineItemId');
    await new Promise((r) => setTimeout(r, 50));
    expect(destroyed).toBe(true);
  });
});
