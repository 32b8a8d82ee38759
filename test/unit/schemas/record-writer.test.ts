import { AvroTypes, type UsageRecord } from '../../../schemas';
import { UsageRecordWriter } from '../../../schemas/usage-record-batch';
import { prng } from '../../support/random';
import { usageRecord } from '../../support/usage-record';

/** What avsc writes for the same records, one after the other. */
const avscBytes = (records: UsageRecord[]) =>
  Buffer.concat(records.map((r) => AvroTypes.usageRecord.toBuffer(r)));

function written(records: UsageRecord[]): Buffer {
  const w = new UsageRecordWriter();
  for (const r of records) w.write(r);
  return Buffer.from(w.buf.subarray(0, w.pos));
}

describe('RecordWriter (UsageRecord)', () => {
  it('writes the bytes avsc writes, across repeated, changed, null and non-ASCII values', () => {
    const random = prng(11);
    const pick = <T>(xs: T[]): T => xs[Math.floor(random() * xs.length)];
    const texts = [
      '',
      'a',
      'us-east-1',
      'Zürich',
      '東京リージョン',
      'emoji 💶 cost',
      'x'.repeat(70),
      'é'.repeat(65),
    ];
    const records: UsageRecord[] = [];
    for (let i = 0; i < 2_000; i++) {
      records.push(
        usageRecord({
          // Repeats for runs of records, then changes: the copy-from-before path and the fresh path.
          x_SourceObject: `s3://bucket/cur/part-${Math.floor(i / 50)}.csv.gz`,
          RegionName: random() < 0.3 ? null : pick(texts),
          ChargeDescription: pick(texts),
          ResourceId: random() < 0.5 ? null : `i-${Math.floor(random() * 5)}`,
          BilledCost: `${Math.floor(random() * 1e6)}.${i}`,
          Tags: random() < 0.4 ? {} : { team: pick(texts), [pick(texts)]: pick(texts) },
          // Lines beyond 2^30 take the floating-point varint path.
          x_SourceLine: pick([0, 1, 63, 64, 8191, 2 ** 30 - 1, 2 ** 30, 2 ** 40 + 3, 2 ** 53 - 2]),
        }),
      );
    }
    const bytes = written(records);
    expect(bytes.equals(avscBytes(records))).toBe(true);
  });

  it('writes a tag map again when a key, a value or the order differs from the previous record', () => {
    const tagSets: Array<Record<string, string>> = [
      { team: 'a', env: 'prod' },
      { team: 'a', env: 'prod' },
      { team: 'a', env: 'dev' },
      { env: 'dev', team: 'a' },
      { env: 'dev', team: 'a', cost: 'x' },
      {},
      {},
      { team: 'a' },
    ];
    const records = tagSets.map((Tags, i) => usageRecord({ Tags, x_SourceLine: i }));
    expect(written(records).equals(avscBytes(records))).toBe(true);
  });

  it('keeps writing correctly after the buffer grows and after its front is dropped', () => {
    const a = usageRecord({ ChargeDescription: 'y'.repeat(100_000) });
    const b = usageRecord({ ChargeDescription: 'y'.repeat(100_000), x_SourceLine: 7 });
    const w = new UsageRecordWriter();
    w.write(a);
    const start = w.pos;
    w.write(b); // repeats a's 100 kB description from earlier in a buffer that had to grow
    expect(Buffer.from(w.buf.subarray(0, w.pos)).equals(avscBytes([a, b]))).toBe(true);
    w.keepFrom(start); // what the batcher does when a message is sealed before b
    w.write(a); // remembered offsets are gone with the moved bytes: written afresh
    expect(Buffer.from(w.buf.subarray(0, w.pos)).equals(avscBytes([b, a]))).toBe(true);
    w.clear();
    expect(w.pos).toBe(0);
  });

  it('refuses values the schema does not allow, naming the field', () => {
    const w = new UsageRecordWriter();
    expect(() => w.write(usageRecord({ ProviderName: null as unknown as string }))).toThrow(/ProviderName/);
    expect(() => w.write(usageRecord({ RegionName: 5 as unknown as string }))).toThrow(/RegionName/);
    expect(() => w.write(usageRecord({ x_SourceLine: 1.5 }))).toThrow(/x_SourceLine/);
    expect(() => w.write(usageRecord({ x_SourceLine: 2 ** 53 }))).toThrow(/x_SourceLine/);
    expect(() => w.write(usageRecord({ Tags: { a: 1 as unknown as string } }))).toThrow(/Tags/);
  });
});
