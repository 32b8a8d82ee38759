/**
 * avsc's string writer, with a fast path for the strings meterflow writes most: short ASCII.
 *
 * Why: every value meterflow produces is Avro (raw batches, usage records, rated records), most
 * of its fields are short strings (ids, codes, dates, decimals), and avsc measures each one with
 * Buffer.byteLength (a native call) before writing it. Writing it was 11 % of the normalize stage's
 * CPU (`BENCH_CPU_PROF=... npm run bench -- processor-stages`). A string of fewer than 64 UTF-16
 * units that are all ASCII has as many bytes as units, so its length prefix is one byte (the zigzag
 * of n < 64 is below 128) and its bytes are its char codes: they are written without measuring.
 * Anything else (a longer string, a non-ASCII character, a buffer too short to hold it) is left to
 * avsc's own writer, from where the string started, so the bytes never differ
 * (test/unit/schemas/avsc-strings.test.ts compares them with avsc's own writer).
 *
 * avsc exports its Tap (lib/utils) and has kept writeString's contract (write at `pos`, advance
 * `pos`, past the end of `buf` only advance) through 5.x; the patch applies to 5.7 only, which is
 * what package.json allows, and says so in `avscStrings.applied` otherwise.
 */

/* eslint-disable @typescript-eslint/no-require-imports */

interface Tap {
  buf: Buffer;
  pos: number;
}

export const AVSC_VERSIONS = /^5\.7\./;

export const avscStrings: { applied: boolean; reason?: string } = { applied: false };

function apply(): void {
  const version = (require('avsc/package.json') as { version: string }).version;
  if (!AVSC_VERSIONS.test(version)) {
    avscStrings.reason = `avsc ${version} is not 5.7`;
    return;
  }
  const { Tap } = require('avsc/lib/utils') as {
    Tap: { prototype: { writeString(this: Tap, s: string): void } };
  };
  const writeString = Tap.prototype.writeString;
  Tap.prototype.writeString = function (this: Tap, s: string): void {
    const length = s.length;
    const start = this.pos;
    const buf = this.buf;
    if (length < 64 && start + 1 + length <= buf.length) {
      let pos = start + 1;
      for (let i = 0; i < length; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) return writeString.call(this, s);
        buf[pos++] = c;
      }
      buf[start] = length << 1;
      this.pos = pos;
      return;
    }
    writeString.call(this, s);
  };
  avscStrings.applied = true;
}

apply();
