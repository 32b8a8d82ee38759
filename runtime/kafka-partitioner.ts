import type { ICustomPartitioner, PartitionerArgs } from 'kafkajs';

/**
 * Which partition a produced message goes to: the same choice as kafkajs's DefaultPartitioner
 * (and the Java client's), computed without its cost.
 *
 * Why our own: kafkajs hashes every key with a murmur2 written on its BigInt-backed Long, and
 * filters the partition list once per message. On the rated topic (one message per record) that
 * was 16 % of the price stage's CPU (`BENCH_CPU_PROF=... npm run bench -- processor-stages`).
 * Here the hash is 32-bit integer arithmetic (Math.imul), which gives the same low 32 bits that
 * kafkajs keeps, and the key's bytes are written into a reused buffer instead of a new one.
 *
 * The partition of a key must never change: dedupe keeps its window per partition of the
 * normalized topic, and the rated topic's readers rely on one key staying on one partition.
 * test/unit/runtime/kafka-partitioner.test.ts checks the choice against kafkajs's own partitioner
 * and the hash against the Java client's published values.
 */

const SEED = 0x9747b28c;
const M = 0x5bd1e995;

/** Kafka's murmur2 (org.apache.kafka.common.utils.Utils.murmur2) of bytes[0, length), as a signed 32-bit int. */
export function murmur2(bytes: Uint8Array, length = bytes.length): number {
  let h = SEED ^ length;
  const whole = length & ~3;
  for (let i = 0; i < whole; i += 4) {
    let k = bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16) | (bytes[i + 3] << 24);
    k = Math.imul(k, M);
    k ^= k >>> 24;
    k = Math.imul(k, M);
    h = Math.imul(h, M) ^ k;
  }
  // The last 1-3 bytes, as the reference's falling-through switch takes them.
  const rest = length & 3;
  if (rest === 3) h ^= bytes[whole + 2] << 16;
  if (rest >= 2) h ^= bytes[whole + 1] << 8;
  if (rest >= 1) h = Math.imul(h ^ bytes[whole], M);
  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h | 0;
}

// Keys are record ids and scopes, tens of bytes: one buffer serves them all. A longer key gets its own.
const scratch = Buffer.allocUnsafe(1024);

/** murmur2 of a message key as kafkajs sends it: a Buffer as is, anything else as its UTF-8 text. */
export function keyHash(key: Buffer | string): number {
  if (Buffer.isBuffer(key)) return murmur2(key);
  const text = String(key);
  // Up to 3 bytes per UTF-16 unit, so a text this short always fits.
  if (text.length <= scratch.length / 3) return murmur2(scratch, scratch.write(text, 0, 'utf8'));
  return murmur2(Buffer.from(text, 'utf8'));
}

const toPositive = (x: number) => x & 0x7fffffff;

/**
 * kafkajs's DefaultPartitioner, decision for decision: an explicit partition wins; a key goes to
 * murmur2(key) modulo the topic's partition count (available or not, so a key never moves while a
 * leader is away); a message without a key goes round-robin over partitions that have a leader,
 * from a random start per topic.
 */
export const keyHashPartitioner: ICustomPartitioner = () => {
  const counters = new Map<string, number>();
  return ({ topic, partitionMetadata, message }: PartitionerArgs): number => {
    if (message.partition !== null && message.partition !== undefined) return message.partition;
    const key = message.key;
    if (key !== null && key !== undefined) return toPositive(keyHash(key)) % partitionMetadata.length;
    const counter = (counters.get(topic) ?? Math.floor(Math.random() * 0x100000000)) + 1;
    counters.set(topic, counter);
    const available = partitionMetadata.filter((p) => p.leader >= 0);
    if (available.length > 0) return available[toPositive(counter) % available.length].partitionId;
    return toPositive(counter) % partitionMetadata.length;
  };
};
