import avro from 'avsc';
import { avscStrings } from '../../../schemas/avsc-strings';
import { prng } from '../../support/random';

/** avsc's own string writer: its utils module loaded afresh, without the patch. */
function originalWriter(): (tap: { buf: Buffer; pos: number }, s: string) => void {
  let Tap: { prototype: { writeString(s: string): void } } | undefined;
  jest.isolateModules(() => {
    Tap = (jest.requireActual('avsc/lib/utils') as { Tap: typeof Tap }).Tap;
  });
  return (tap, s) => Tap!.prototype.writeString.call(tap, s);
}

const { Tap } = jest.requireActual('avsc/lib/utils') as {
  Tap: new (buf: Buffer, pos?: number) => { buf: Buffer; pos: number; writeString(s: string): void };
};

/** Strings of every kind: ASCII of every length around 64, non-ASCII anywhere, surrogates, controls. */
function strings(count: number): string[] {
  const next = prng(5);
  const ascii = 'abcXYZ0189 .-_:/"\\\u0000\u007f';
  const other = ['é', '€', '😀', '\ud800', '\udfff', '\u0080', '\u07ff', '\u0800'];
  const out = ['', 'a', 'x'.repeat(63), 'x'.repeat(64), 'x'.repeat(65), 'é'.repeat(40), `${'x'.repeat(62)}é`];
  for (let i = 0; i < count; i++) {
    const length = Math.floor(next() * 90);
    let s = '';
    for (let j = 0; j < length; j++)
      s +=
        next() < 0.97 || i % 2 === 0
          ? ascii[Math.floor(next() * ascii.length)]
          : other[Math.floor(next() * other.length)];
    out.push(s);
  }
  return out;
}

describe("avsc's string writer (schemas/avsc-strings.ts)", () => {
  const original = originalWriter();

  it('is patched for the installed avsc', () => {
    expect(avscStrings).toEqual({ applied: true });
    expect(original).not.toBe(Tap.prototype.writeString);
  });

  it("writes every string byte for byte as avsc's own writer, at any position, in buffers of any room", () => {
    let compared = 0;
    const cases = strings(4000);
    for (const [i, s] of cases.entries()) {
      const at = i % 7;
      // Room for the string, exactly enough, one byte short, and none (the writer only advances).
      for (const room of [200, at + 1 + Buffer.byteLength(s), at + Buffer.byteLength(s), at]) {
        const ours = new Tap(Buffer.alloc(room, 0xee), at);
        const theirs = new Tap(Buffer.alloc(room, 0xee), at);
        ours.writeString(s);
        original(theirs, s);
        // In a buffer too short for the string, avsc only advances pos (encode then reports the
        // bytes missing and the value is written again into a larger buffer): pos is what counts.
        const fits = theirs.pos <= room;
        if (ours.pos !== theirs.pos || (fits && !ours.buf.equals(theirs.buf)))
          expect({ s, room, pos: ours.pos, bytes: ours.buf.toString('hex') }).toEqual({
            s,
            room,
            pos: theirs.pos,
            bytes: theirs.buf.toString('hex'),
          });
        compared++;
      }
    }
    expect(compared).toBe(cases.length * 4);
  });

  it('round-trips records through avsc (encode, grow, decode)', () => {
    const type = avro.Type.forSchema({
      type: 'record',
      name: 'R',
      fields: [
        { name: 'a', type: 'string' },
        { name: 'b', type: ['null', 'string'] },
        { name: 'm', type: { type: 'map', values: 'string' } },
      ],
    });
    for (const s of strings(500)) {
      const value = { a: s, b: s.slice(0, 10) || null, m: { [s.slice(0, 5)]: s } };
      const bytes = type.toBuffer(value);
      expect(type.fromBuffer(bytes)).toEqual(type.fromBuffer(type.toBuffer(type.fromBuffer(bytes))));
      if (!/[\ud800-\udfff]/.test(s)) expect(type.fromBuffer(bytes)).toEqual(value);
    }
  });
});
