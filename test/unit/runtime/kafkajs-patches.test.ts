import { execFileSync } from 'node:child_process';
import path from 'node:path';

const ROOT = path.join(__dirname, '../../..');

/*
 * The patch works through Node's own module cache, which jest's module registry does not use, so
 * it is checked in a plain Node process, as meterflow's processes load it. (The integration suite
 * produces through it too: `process all` runs as a child process, and the broker rejects a batch
 * whose checksum is wrong.)
 */
const script = String.raw`
const { kafkajsPatches, KAFKAJS_VERSION } = require('./runtime/kafkajs-patches');
const installed = require('kafkajs/package.json').version;
const jsCrc32C = require('kafkajs/src/protocol/recordBatch/crc32C/crc32C'); // kafkajs's own, unpatched
const { RecordBatch } = require('kafkajs/src/protocol/recordBatch/v0');
const Record = require('kafkajs/src/protocol/recordBatch/record/v0');
const Encoder = require('kafkajs/src/protocol/encoder');
// kafkajs's encoder as published: its module compiled afresh, outside the patched module cache.
const Module = require('node:module');
const encoderPath = require.resolve('kafkajs/src/protocol/encoder');
const fresh = new Module(encoderPath);
fresh.filename = encoderPath;
fresh.paths = Module._nodeModulePaths(require('node:path').dirname(encoderPath));
fresh._compile(require('node:fs').readFileSync(encoderPath, 'utf8'), encoderPath);
const Original = fresh.exports;
const Long = require('kafkajs/src/utils/long');
(async () => {
  // Records of every size up to 300 KB, so the encoders grow through many powers of two.
  const records = [1, 100, 4000, 70000, 300000].map((n, i) =>
    Record({ offsetDelta: i, timestampDelta: 0, key: Buffer.from('k' + i), value: Buffer.alloc(n, i + 1), headers: { h: 'v' } }),
  );
  const batch = (await RecordBatch({ records, lastOffsetDelta: 4, firstTimestamp: 1, maxTimestamp: 1 })).buffer;
  // RecordBatch: FirstOffset int64, Length int32, PartitionLeaderEpoch int32, Magic int8, CRC uint32, then the checksummed body.
  const crc = batch.readUInt32BE(17);
  const expected = jsCrc32C(batch.subarray(21)) >>> 0;
  // The same bytes written through an encoder that never grows (one allocation of the final size).
  const sizes = [3, 70000, 5, 300000, 1];
  const grown = new Encoder(1);
  const fixed = new Encoder(400000);
  for (const e of [grown, fixed]) for (const [i, n] of sizes.entries()) e.writeBytes(Buffer.alloc(n, i + 7)).writeInt32(n);
  // Varints and varlongs of every width, both signs, the 32-bit edges, past them, non-integers, Longs.
  const values = [0, -0, 1, -1, 63, 64, -64, -65, 127, 128, 8191, 8192, 2 ** 20, 2 ** 28, 2 ** 30, 2 ** 31 - 1, -(2 ** 31),
    2 ** 31, -(2 ** 31) - 1, 2 ** 32, 2 ** 40, -(2 ** 40), Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER, 1.5, -2.5, NaN];
  for (let i = 0; i < 2000; i++) values.push(Math.floor((Math.sin(i + 1) * 2 ** (i % 54))));
  const longs = [Long.fromValue(-1), Long.fromValue(2 ** 40), Long.fromString('9223372036854775807'), Long.fromString('-9223372036854775808')];
  const differences = [];
  // Bytes, or the error (kafkajs refuses a non-integer varlong): the patched encoder must do the same.
  const outcome = (write) => {
    try {
      const written = write();
      return typeof written === 'number' ? String(written) : written.buffer.toString('hex');
    } catch (err) {
      return 'throws ' + err.message;
    }
  };
  const compare = (what, ours, theirs) => { if (outcome(ours) !== outcome(theirs)) differences.push(what); };
  for (const v of values) {
    compare('varint ' + v, () => new Encoder(1).writeVarInt(v), () => new Original(1).writeVarInt(v));
    compare('uvarint ' + v, () => new Encoder(1).writeUVarInt(v), () => new Original(1).writeUVarInt(v));
    compare('varlong ' + v, () => new Encoder(1).writeVarLong(v), () => new Original(1).writeVarLong(v));
    compare('size ' + v, () => Encoder.sizeOfVarLong(v), () => Original.sizeOfVarLong(v));
  }
  for (const l of longs) {
    compare('long ' + l, () => new Encoder(1).writeVarLong(l), () => new Original(1).writeVarLong(l));
    compare('long size ' + l, () => Encoder.sizeOfVarLong(l), () => Original.sizeOfVarLong(l));
  }
  // A whole record as the producer writes it (kafkajs's record module, through the patched
  // encoder), after other bytes so its writes land mid-buffer; expected: the same fields written
  // by the original encoder, in the record format's order.
  const value = Buffer.alloc(900, 3);
  const record = Record({ offsetDelta: 300, timestampDelta: -5, key: 'r-1', value, headers: { a: 'b' } });
  const body = 1 + Original.sizeOfVarLong(-5) + Original.sizeOfVarInt(300) + Original.sizeOfVarIntBytes('r-1') +
    Original.sizeOfVarIntBytes(value) + Original.sizeOfVarInt(1) + Original.sizeOfVarIntBytes('a') + Original.sizeOfVarIntBytes('b');
  const expectedRecord = new Original(1).writeInt8(9)
    .writeVarInt(body).writeInt8(0).writeVarLong(-5).writeVarInt(300)
    .writeVarIntBytes('r-1').writeVarIntBytes(value)
    .writeVarInt(1).writeVarIntBytes('a').writeVarIntBytes('b');
  compare('record', () => new Encoder(1).writeInt8(9).writeEncoder(record), () => expectedRecord);
  process.stdout.write(JSON.stringify({
    patches: kafkajsPatches, version: KAFKAJS_VERSION, installed, crc, expected,
    encodersEqual: grown.buffer.equals(fixed.buffer), encodedLength: grown.buffer.length,
    compared: values.length + longs.length + 1, differences,
  }));
})();
`;

describe('kafkajs patches (runtime/kafkajs-patches.ts)', () => {
  const out = JSON.parse(
    execFileSync(process.execPath, ['--import', 'tsx', '-e', script], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 60_000,
    }),
  ) as {
    patches: { applied: boolean; nativeCrc32c: boolean; reason?: string };
    version: string;
    installed: string;
    crc: number;
    expected: number;
    encodersEqual: boolean;
    encodedLength: number;
    compared: number;
    differences: string[];
  };

  it('is written for the installed kafkajs (a new version must be looked at before the patch is)', () => {
    expect(out.installed).toBe(out.version);
    expect(out.patches).toEqual({ applied: true, nativeCrc32c: true });
  });

  it("writes the record batch checksum kafkajs's own CRC-32C gives", () => {
    expect(out.crc).toBe(out.expected);
    expect(out.crc).toBeGreaterThan(0);
  });

  it('grows encoders without changing a byte', () => {
    expect(out.encodersEqual).toBe(true);
    expect(out.encodedLength).toBe([3, 70000, 5, 300000, 1].reduce((sum, n) => sum + n + 4 + 4, 0));
  });

  it("writes varints, varlongs and records byte for byte as kafkajs's own encoder does", () => {
    expect(out.differences).toEqual([]);
    expect(out.compared).toBeGreaterThan(2000);
  });
});
