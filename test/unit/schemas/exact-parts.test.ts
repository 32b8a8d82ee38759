import { Decimal, decimalToString } from '../../../schemas/decimal';
import { exactParts, exactPartsSum, type ExactParts } from '../../../schemas/exact-parts';
import { prng } from '../../support/random';

/** What an engine summing the parts as doubles returns for `amounts`. */
function sumsOf(amounts: string[]) {
  const parts = amounts.map((a) => exactParts(a)!);
  const units = parts.map((p) => p.units);
  const add = (f: (p: ExactParts) => number) => parts.reduce((s, p) => s + f(p), 0);
  return {
    count: parts.length,
    unitsMin: Math.min(...units),
    unitsMax: Math.max(...units),
    unitsSum: add((p) => p.units),
    nanoSum: add((p) => p.nano),
    attoSum: add((p) => p.atto),
  };
}

describe('exact integer parts of an amount', () => {
  it.each([
    ['0', { units: 0, nano: 0, atto: 0 }],
    ['12.5', { units: 12, nano: 500_000_000, atto: 0 }],
    ['0.000000000000000001', { units: 0, nano: 0, atto: 1 }],
    ['0.0000000123456789', { units: 0, nano: 12, atto: 345_678_900 }],
    // floor, not truncation: the fraction parts are never negative
    ['-1.5', { units: -2, nano: 500_000_000, atto: 0 }],
    ['-0.000000001', { units: -1, nano: 999_999_999, atto: 0 }],
    ['9007199254740991', { units: 9007199254740991, nano: 0, atto: 0 }],
    ['1.100000000000000000000', { units: 1, nano: 100_000_000, atto: 0 }],
  ])('%s', (text, parts) => {
    expect(exactParts(text)).toEqual(parts);
    const p = parts as ExactParts;
    const back = new Decimal(p.units).plus(new Decimal(p.nano).div(1e9)).plus(new Decimal(p.atto).div(1e18));
    expect(back.equals(new Decimal(text))).toBe(true);
  });

  it.each(['0.1234567890123456789', '9007199254740992', '-9007199254740993', '1e3', 'abc', '', '.5'])(
    'has none for %s (more than 18 places, beyond 2^53, or not plain decimal text)',
    (text) => expect(exactParts(text)).toBeUndefined(),
  );

  it('gives the parts an exact BigInt computation gives, for 20,000 generated amounts', () => {
    // The parts by BigInt arithmetic alone (scaled by 10^18, floor division).
    const reference = (text: string): ExactParts | undefined => {
      const m = /^(-?)(\d+)(?:\.(\d+))?$/.exec(text);
      const fraction = (m![3] ?? '').replace(/0+$/, '');
      if (fraction.length > 18) return undefined;
      const scaled = BigInt(`${m![1]}${m![2]}${fraction.padEnd(18, '0')}`);
      const e18 = 10n ** 18n;
      const units = scaled >= 0n || scaled % e18 === 0n ? scaled / e18 : scaled / e18 - 1n;
      const rest = scaled - units * e18;
      if (units > BigInt(Number.MAX_SAFE_INTEGER) || units < -BigInt(Number.MAX_SAFE_INTEGER))
        return undefined;
      return { units: Number(units), nano: Number(rest / 10n ** 9n), atto: Number(rest % 10n ** 9n) };
    };
    const next = prng(3);
    const digits = (n: number) => Array.from({ length: n }, () => Math.floor(next() * 10)).join('');
    let checked = 0;
    for (let i = 0; i < 20_000; i++) {
      // Whole parts of 1-18 digits (both sides of the 15-digit fast path), fractions of 0-20
      // digits with runs of zeros (nano or atto 0), both signs.
      const whole = next() < 0.3 ? '0' : digits(1 + Math.floor(next() * 18));
      const places = Math.floor(next() * 21);
      const fraction = next() < 0.3 ? digits(places).replace(/\d{9}$/, '0'.repeat(9)) : digits(places);
      const text = `${next() < 0.5 ? '-' : ''}${whole}${places > 0 ? `.${fraction.slice(0, places)}` : ''}`;
      const got = exactParts(text);
      const want = reference(text);
      if (JSON.stringify(got) !== JSON.stringify(want) || Object.is(got?.units, -0))
        expect({ text, got }).toEqual({ text, got: want });
      checked++;
    }
    expect(checked).toBe(20_000);
  });

  it('sums exactly where the doubles would not', () => {
    const amounts = ['0.1', '0.2', '-0.35', '0.000000000000000001', '1234567.000000000000000009'];
    const exact = '1234566.95000000000000001';
    expect(String(amounts.reduce((s, a) => s + Number(a), 0))).not.toBe(exact);
    const sum = exactPartsSum(sumsOf(amounts));
    expect(decimalToString(sum!)).toBe(exact);
  });

  it('refuses sums that may have left the exact range of a double', () => {
    // Each within range, but two of them can reach 2^53.
    expect(exactPartsSum(sumsOf(['5000000000000000', '5000000000000000']))).toBeUndefined();
    expect(exactPartsSum(sumsOf(['5000000000000000']))).toBeDefined();
    // More documents than the fraction sums can hold exactly.
    expect(
      exactPartsSum({ count: 9_007_200, unitsMin: 0, unitsMax: 0, unitsSum: 0, nanoSum: 0, attoSum: 0 }),
    ).toBeUndefined();
    expect(
      exactPartsSum({ count: 10, unitsMin: 0, unitsMax: 1, unitsSum: 0.5, nanoSum: 0, attoSum: 0 }),
    ).toBeUndefined();
  });
});
