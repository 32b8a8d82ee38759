/**
 * Three CPU costs of kafkajs's produce path, replaced in place. Every meterflow process that writes
 * Kafka (collectors, the three stages, the API's event ingest) pays them on every byte it produces:
 *
 * 1. The CRC-32C of each record batch, which kafkajs computes in JavaScript, a byte at a time
 *    (about 330 MB/s on the 2-core bench machine). @node-rs/crc32's `crc32c` (SSE 4.2) gives the
 *    same checksum at about 3 GB/s. The broker checks this checksum on every batch, so a wrong one
 *    would fail every produce: the integration suites exercise it on every run.
 * 2. Encoder growth: kafkajs grows its write buffer with `Buffer.alloc`, zero-filling memory that
 *    the next write overwrites at once (only the bytes up to `offset` are ever read). A normalized
 *    batch of 500 records grows one encoder to 512 KiB, and is copied into two more.
 * 3. Varints: kafkajs writes each one through a new array and a new Buffer (six per record: its
 *    length, timestamp delta, offset delta, key and value lengths, header count), and its varlongs
 *    (a record's timestamp delta) through BigInt arithmetic. The same bytes are written straight
 *    into the encoder's buffer; a varlong whose value is a 32-bit integer is the same bytes as the
 *    varint of that value. On the rated topic (one record per message) these were about a sixth of
 *    the price stage's CPU.
 *
 * kafkajs has had no release since 2.2.4 (2023), and these are its internal modules, so the patch
 * applies only to the version it was written against (`KAFKAJS_VERSION`); any other version runs
 * unpatched and says so in `kafkajsPatches.applied`. A unit test fails on a version change so the
 * patch is looked at again. The native checksum is optional too: without a prebuilt binary for the
 * platform, kafkajs keeps its own.
 *
 * Import this module before anything requires kafkajs's produce requests (runtime/kafka.ts does,
 * first): the record-batch module reads the checksum function once, when it is first required.
 */

/* eslint-disable @typescript-eslint/no-require-imports */
import Module from 'node:module';
import path from 'node:path';

export const KAFKAJS_VERSION = '2.2.4';

export const kafkajsPatches: { applied: boolean; nativeCrc32c: boolean; reason?: string } = {
  applied: false,
  nativeCrc32c: false,
};

interface EncoderInternals {
  buf: Buffer;
  offset: number;
  ensureAvailable(length: number): void;
  writeVarInt(value: number): EncoderInternals;
}

/** A number that kafkajs's 32-bit zigzag and its 64-bit zigzag encode alike. */
const isInt32 = (value: unknown): value is number => typeof value === 'number' && (value | 0) === value;

function apply(): void {
  const root = path.dirname(require.resolve('kafkajs/package.json'));
  const version = (require('kafkajs/package.json') as { version: string }).version;
  if (version !== KAFKAJS_VERSION) {
    kafkajsPatches.reason = `kafkajs ${version} is not ${KAFKAJS_VERSION}`;
    return;
  }

  const Encoder = require(path.join(root, 'src/protocol/encoder.js')) as {
    nextPowerOfTwo(n: number): number;
    sizeOfVarInt(value: number): number;
    sizeOfVarLong(value: unknown): number;
    prototype: EncoderInternals & {
      writeUVarInt(value: number): EncoderInternals;
      writeVarLong(value: unknown): EncoderInternals;
    };
  };
  Encoder.prototype.ensureAvailable = function ensureAvailable(this: EncoderInternals, length: number) {
    if (this.offset + length > this.buf.length) {
      // allocUnsafe: the bytes past `offset` are written before anything reads them.
      const grown = Buffer.allocUnsafe(Encoder.nextPowerOfTwo(this.offset + length));
      this.buf.copy(grown, 0, 0, this.offset);
      this.buf = grown;
    }
  };
  // kafkajs's loop, step for step (the same coercions), writing each byte where it belongs. At
  // most 5 bytes: after the first step the value is an unsigned 32-bit number.
  Encoder.prototype.writeUVarInt = function writeUVarInt(this: EncoderInternals, value: number) {
    this.ensureAvailable(5);
    const buf = this.buf;
    let offset = this.offset;
    while ((value & 0xffffff80) !== 0) {
      buf[offset++] = (value & 0x7f) | 0x80;
      value >>>= 7;
    }
    buf[offset++] = value & 0x7f;
    this.offset = offset;
    return this;
  };
  const writeVarLong = Encoder.prototype.writeVarLong;
  Encoder.prototype.writeVarLong = function (this: EncoderInternals, value: unknown) {
    return isInt32(value) ? this.writeVarInt(value) : writeVarLong.call(this, value);
  };
  const sizeOfVarLong = Encoder.sizeOfVarLong.bind(Encoder);
  Encoder.sizeOfVarLong = (value: unknown) =>
    isInt32(value) ? Encoder.sizeOfVarInt(value) : sizeOfVarLong(value);
  kafkajsPatches.applied = true;

  let crc32c: (data: Buffer) => number;
  try {
    crc32c = (require('@node-rs/crc32') as { crc32c(data: Buffer): number }).crc32c;
  } catch {
    kafkajsPatches.reason = 'no @node-rs/crc32 binary for this platform: kafkajs computes CRC-32C itself';
    return;
  }
  const crcModule = path.join(root, 'src/protocol/recordBatch/crc32C/index.js');
  if (require.cache[crcModule]) {
    // Already required: the record-batch module may hold kafkajs's function. Leave it.
    kafkajsPatches.reason = 'kafkajs loaded its record batches before this module';
    return;
  }
  // kafkajs's module returns the checksum as an unsigned 32-bit number; so does crc32c.
  const entry = new Module(crcModule);
  entry.filename = crcModule;
  entry.loaded = true;
  entry.exports = crc32c;
  require.cache[crcModule] = entry;
  kafkajsPatches.nativeCrc32c = true;
}

apply();
