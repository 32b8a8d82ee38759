import fc from 'fast-check';
import { Decimal, decimalToString } from '../../../../schemas/decimal';
import { graduated, packages, tierProblems, volume, type Tier } from '../../../../processors/price';

const D = (s: string | number) => new Decimal(s);
const tiers = (...spec: Array<[string | null, string]>): Tier[] =>
  spec.map(([upTo, price]) => ({ up_to: upTo === null ? null : D(upTo), unit_price: D(price) }));
const text = (d: Decimal) => decimalToString(d);

// 0-100 at 1, 100-1000 at 0.8, above 1000 at 0.5
const STANDARD = tiers(['100', '1'], ['1000', '0.8'], [null, '0.5']);

describe('graduated', () => {
  it.each([
    ['0', '0'],
    ['50', '50'],
    ['100', '100'],
    ['100.5', '100.4'], // 100*1 + 0.5*0.8
    ['1000', '820'], // 100 + 900*0.8
    ['1500', '1070'], // 100 + 720 + 500*0.5
  ])('%s units cost %s', (q, expected) => {
    expect(text(graduated(D(q), STANDARD))).toBe(expected);
  });

  it('is exact with small prices', () => {
    const s3 = tiers(['1000', '0.023'], ['50000', '0.021'], [null, '0.019']);
    // 1000*0.023 + 49000*0.021 + 0.0000001*0.019
    expect(text(graduated(D('50000.0000001'), s3))).toBe('1052.0000000019');
  });

  it('with one unbounded tier is quantity * price', () => {
    expect(text(graduated(D('12.5'), tiers([null, '0.2'])))).toBe('2.5');
  });

  it('never decreases as quantity grows, and is continuous at the tier bounds', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 5000 }), fc.integer({ min: 0, max: 5000 }), (a, b) => {
        const [lo, hi] = a <= b ? [a, b] : [b, a];
        expect(graduated(D(lo), STANDARD).lte(graduated(D(hi), STANDARD))).toBe(true);
      }),
    );
    expect(text(graduated(D('100.000001'), STANDARD).minus(graduated(D(100), STANDARD)))).toBe('0.0000008');
  });
});

describe('volume', () => {
  it.each([
    ['0', '0'],
    ['100', '100'], // up_to is inclusive: 100 units are still in the first tier
    ['100.5', '80.4'], // all 100.5 at 0.8
    ['1000', '800'],
    ['1000.1', '500.05'], // all at 0.5
    ['1500', '750'],
  ])('%s units cost %s', (q, expected) => {
    expect(text(volume(D(q), STANDARD))).toBe(expected);
  });
});

describe('packages', () => {
  it.each([
    ['0', '0'],
    ['1', '2.5'],
    ['100', '2.5'],
    ['100.0000001', '5'],
    ['250', '7.5'],
    ['300', '7.5'],
  ])('%s units in packages of 100 at 2.50 cost %s', (q, expected) => {
    expect(text(packages(D(q), D(100), D('2.50')))).toBe(expected);
  });

  it('handles fractional package sizes exactly (no rounded division)', () => {
    expect(text(packages(D('0.3'), D('0.1'), D(1)))).toBe('3');
    expect(text(packages(D('1'), D('0.3'), D(1)))).toBe('4');
    // 1/3 is not representable; the integer quotient and exact remainder still get it right
    expect(text(packages(D('3'), D('1').div(3), D(1)))).toBe('10');
  });

  it('rejects a zero package size and negative quantities', () => {
    expect(() => packages(D(1), D(0), D(1))).toThrow(RangeError);
    expect(() => packages(D(-1), D(10), D(1))).toThrow(RangeError);
  });
});

describe('tier validation', () => {
  it('accepts a well-formed list and explains every problem of a bad one', () => {
    expect(tierProblems(STANDARD)).toEqual([]);
    expect(tierProblems([])).toEqual(['at least one tier is required']);
    expect(tierProblems(tiers([null, '1'], ['10', '-1'], ['5', '1']))).toEqual([
      'tiers[0].up_to: only the last tier may be unbounded',
      'tiers[1].unit_price: must not be negative',
      'tiers[2].up_to: the last tier must be unbounded (leave out up_to)',
      "tiers[2].up_to: must be greater than the previous tier's up_to",
    ]);
  });

  it('tier math refuses invalid tiers and negative quantities', () => {
    expect(() => graduated(D(1), tiers(['10', '1']))).toThrow(/last tier must be unbounded/);
    expect(() => volume(D(-1), STANDARD)).toThrow(/must not be negative/);
  });
});
