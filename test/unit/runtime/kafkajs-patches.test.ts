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
  process.stdout.write(JSON.stringify({
    patches: kafkajsPatches, version: KAFKAJS_VERSION, installed, crc, expected,
    encodersEqual: grown.buffer.equals(fixed.buffer), encodedLength: grown.buffer.length,
  }));
})();
`;

describe('kafkajs patches (runtime/kafkajs-patches.ts)', () => {
  const out = JSON.parse(
    execFileSync(process.execPath, ['--import', 'tsx', '-e', script], { cwd: ROOT, encoding: 'utf8' }),
  ) as {
    patches: { applied: boolean; nativeCrc32c: boolean; reason?: string };
    version: string;
    installed: string;
    crc: number;
    expected: number;
    encodersEqual: boolean;
    encodedLength: number;
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
});
