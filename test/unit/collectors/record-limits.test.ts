import { Readable } from 'node:stream';
import { readCsvRows } from '../../../collectors/formats/csv-rows';
import { readJsonlRows } from '../../../collectors/formats/jsonl-rows';
import { InputError } from '../../../runtime/errors';

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
