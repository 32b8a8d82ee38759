import { Readable } from 'node:stream';
import { readCsvRows } from '../../../collectors/formats/csv-rows';
import { readJsonlRows } from '../../../collectors/formats/jsonl-rows';
import { InputError, PermanentError } from '../../../runtime/errors';
import { openDecoded } from '../../../collectors/formats/decode';
import { gzipSync } from 'node:zlib';

/** A stream of `head`, then `chunks` chunks of `size` bytes with no line feed. */
function endlessLine(head: string, chunks: number, size: number): Readable {
  let sent = -1;
  return new Readable({
    read() {
      sent++;
      if (sent === 0) this.push(Buffer.from(head));
      else if (sent <= chunks) this.push(Buffer.alloc(size, 0x61));
      else this.push(null);
    },
  });
}

async function drain(lines: AsyncIterable<unknown>): Promise<unknown[]> {
  const out: unknown[] = [];
  for await (const l of lines) out.push(l);
  return out;
}

describe('a record longer than collector.max_record_bytes', () => {
  it('fails a CSV object naming the object and the line the record starts on, rows before it delivered', async () => {
    const rows: unknown[] = [];
    const err = await (async () => {
      try {
        for await (const r of readCsvRows(endlessLine('a,b\n1,2\n3,', 64, 1024), {
          object: 's3://b/poison.csv',
          maxRecordBytes: 8 * 1024,
        }))
          rows.push(r);
      } catch (e) {
        return e;
      }
    })();
    expect(rows).toHaveLength(1);
    expect(err).toBeInstanceOf(InputError);
    expect((err as InputError).message).toContain('s3://b/poison.csv');
    expect((err as InputError).message).toContain('line 3');
    expect((err as InputError).message).toContain('longer than 8192 bytes');
  });

  it('fails a JSON-lines object naming the object and the line', async () => {
    const lines = readJsonlRows(endlessLine('{"cost":"1"}\n{"cost":', 64, 1024), {
      object: 'gs://b/part-0.jsonl',
      maxRecordBytes: 8 * 1024,
    });
    await expect(drain(lines)).rejects.toThrow(/gs:\/\/b\/part-0\.jsonl.*line 2.*longer than 8192 bytes/s);
  });

  it('reads records up to the limit', async () => {
    const long = 'x'.repeat(4 * 1024);
    const csv = Readable.from([Buffer.from(`a,b\n${long},2\n`)]);
    const rows = await drain(readCsvRows(csv, { object: 'o', maxRecordBytes: 8 * 1024 }));
    expect(rows).toEqual([expect.objectContaining({ kind: 'row', line: 2 })]);
  });
});

describe('an object that decompresses beyond collector.max_expansion_ratio', () => {
  // 128 MiB of one short CSV line over and over gzips to about 0.5 MiB: some 250 times smaller.
  const line = Buffer.from('l1,2026-03-03T00:00:00Z,AmazonEC2,1,0.5,USD\n');
  const plain = Buffer.alloc(128 * 1024 * 1024);
  for (let i = 0; i + line.length <= plain.length; i += line.length) line.copy(plain, i);
  const bomb = gzipSync(plain, { level: 9 });

  it('fails past its first 64 MiB, naming the object and the cap', async () => {
    const decoded = await openDecoded(Readable.from([bomb]), 's3://b/bomb.csv.gz', { maxExpansionRatio: 50 });
    const err = await (async () => {
      try {
        let n = 0;
        for await (const chunk of decoded) n += (chunk as Buffer).length;
        return n;
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(PermanentError);
    expect((err as Error).message).toContain('s3://b/bomb.csv.gz');
    expect((err as Error).message).toContain('collector.max_expansion_ratio');
  });

  it('reads it whole when the ratio allows it (and with the cap off)', async () => {
    for (const maxExpansionRatio of [bomb.length ? Math.ceil(plain.length / bomb.length) + 1 : 1, 0]) {
      const decoded = await openDecoded(Readable.from([bomb]), 's3://b/bomb.csv.gz', { maxExpansionRatio });
      let n = 0;
      for await (const chunk of decoded) n += (chunk as Buffer).length;
      expect(n).toBe(plain.length);
    }
  });
});
