import { Kafka, Partitioners, type PartitionMetadata, type Message } from 'kafkajs';
import { keyHash, keyHashPartitioner, murmur2 } from '../../../runtime/kafka-partitioner';
import { createKafka } from '../../../runtime/kafka';
import { MeterflowConfigSchema } from '../../../runtime/config';
import { prng } from '../../support/random';

const partitions = (n: number, leaderless: number[] = []): PartitionMetadata[] =>
  Array.from({ length: n }, (_, partitionId) => ({
    partitionErrorCode: 0,
    partitionId,
    leader: leaderless.includes(partitionId) ? -1 : 0,
    replicas: [0],
    isr: [0],
  }));

/** Keys as meterflow and its users send them: ASCII ids, any Unicode text (lone surrogates too), raw bytes, long ones. */
function keys(count: number): Array<string | Buffer> {
  const next = prng(11);
  const pick = (s: string) => s[Math.floor(next() * s.length)];
  const alphabets = ['0123456789abcdef', 'aé€ ', 'x\u{1F600}y', '\ud800z\udfff', 'AWS/aws:123|2026-11'];
  const out: Array<string | Buffer> = ['', 'a', 'ab', 'abc', 'abcd'];
  for (let i = 0; i < count; i++) {
    // Lengths around every remainder mod 4, and past the reused buffer (341 UTF-16 units).
    const length = i % 3 === 0 ? 300 + Math.floor(next() * 500) : Math.floor(next() * 80);
    if (i % 7 === 0) {
      out.push(Buffer.from(Array.from({ length }, () => Math.floor(next() * 256))));
      continue;
    }
    const alphabet = alphabets[i % alphabets.length];
    out.push(Array.from({ length }, () => pick(alphabet)).join(''));
  }
  return out;
}

describe('murmur2', () => {
  it("gives the Java client's published values (Kafka's UtilsTest)", () => {
    const cases: Array<[string, number]> = [
      ['21', -973932308],
      ['foobar', -790332482],
      ['a-little-bit-long-string', -985981536],
      ['a-little-bit-longer-string', -1486304829],
      ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
      ['abc', 479470107],
    ];
    for (const [text, hash] of cases) {
      expect(murmur2(Buffer.from(text))).toBe(hash);
      expect(keyHash(text)).toBe(hash);
    }
  });

  it('hashes only the bytes it is told to', () => {
    const bytes = Buffer.from('foobar-and-more');
    expect(murmur2(bytes, 6)).toBe(murmur2(Buffer.from('foobar')));
  });
});

describe('keyHashPartitioner', () => {
  it("puts every key on the partition kafkajs's DefaultPartitioner chooses", () => {
    const ours = keyHashPartitioner();
    const theirs = Partitioners.DefaultPartitioner();
    const all = keys(1500);
    let checked = 0;
    for (const n of [1, 3, 7, 12]) {
      // A partition without a leader does not move keys: the count is of all partitions.
      const metadata = partitions(n, n > 1 ? [1] : []);
      for (const key of all) {
        const message: Message = { key, value: null };
        const args = { topic: 't', partitionMetadata: metadata, message };
        expect(ours(args)).toBe(theirs(args));
        checked++;
      }
    }
    expect(checked).toBe(4 * all.length);
  });

  it('keeps an explicit partition', () => {
    const choose = keyHashPartitioner();
    expect(
      choose({
        topic: 't',
        partitionMetadata: partitions(3),
        message: { key: 'k', value: null, partition: 2 },
      }),
    ).toBe(2);
    expect(
      choose({
        topic: 't',
        partitionMetadata: partitions(3),
        message: { key: 'k', value: null, partition: 0 },
      }),
    ).toBe(0);
  });

  it('sends messages without a key round-robin over the partitions that have a leader', () => {
    const choose = keyHashPartitioner();
    const metadata = partitions(4, [2]);
    const chosen = Array.from({ length: 9 }, () =>
      choose({ topic: 't', partitionMetadata: metadata, message: { value: 'v' } }),
    );
    expect(chosen).not.toContain(2);
    // Consecutive messages take consecutive available partitions.
    const available = [0, 1, 3];
    for (let i = 1; i < chosen.length; i++) {
      expect(available.indexOf(chosen[i])).toBe((available.indexOf(chosen[i - 1]) + 1) % 3);
    }
    // Each topic keeps its own turn.
    const other = choose({ topic: 'u', partitionMetadata: partitions(1), message: { value: 'v' } });
    expect(other).toBe(0);
  });
});

describe('createKafka', () => {
  afterEach(() => jest.restoreAllMocks());

  it('gives every producer the partitioner unless one is asked for', () => {
    const spy = jest.spyOn(Kafka.prototype, 'producer');
    const kafka = createKafka(MeterflowConfigSchema.parse({}), 'test');
    kafka.producer();
    kafka.producer({ idempotent: true });
    const custom = Partitioners.LegacyPartitioner;
    kafka.producer({ createPartitioner: custom });
    expect(spy.mock.calls.map(([config]) => config?.createPartitioner)).toEqual([
      keyHashPartitioner,
      keyHashPartitioner,
      custom,
    ]);
    expect(spy.mock.calls[1][0]).toMatchObject({ idempotent: true });
  });
});
