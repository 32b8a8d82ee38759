import { Decimal, decimalToString, parseDecimal, sumDecimals } from '../../../schemas/decimal';

describe('decimal money', () => {
  it('adds what binary floating point cannot', () => {
    expect(0.1 + 0.2).not.toBe(0.3);
    expect(decimalToString(parseDecimal('0.1')!.plus(parseDecimal('0.2')!))).toBe('0.3');
  });

  it('keeps every digit of long CUR amounts', () => {
    const values = ['0.0000000123456789', '12345678901234567.89', '-0.0000000123456789'].map((v) =>
      parseDecimal(v)!,
    );
    expect(decimalToString(sumDecimals(values))).toBe('12345678901234567.89');
  });

  it('parses exponent notation and rejects non-numbers', () => {
    expect(decimalToString(parseDecimal('1.5E-7')!)).toBe('0.00000015');
    expect(parseDecimal('12,5')).toBeUndefined();
    expect(parseDecimal('')).toBeUndefined();
    expect(parseDecimal('NaN')).toBeUndefined();
  });

  it('normalises negative zero', () => {
    expect(decimalToString(new Decimal('-0.000'))).toBe('0');
  });

  it('refuses amounts outside the bounds instead of expanding them (1e100000000 once crashed the process)', () => {
    expect(parseDecimal('1e100000000')).toBeUndefined();
    expect(parseDecimal('-1E+100000000')).toBeUndefined();
    expect(parseDecimal('1e400')).toBeUndefined();
    expect(parseDecimal('1e-400')).toBeUndefined();
    expect(parseDecimal('9'.repeat(31))).toBeUndefined();
    expect(parseDecimal(`0.${'1'.repeat(41)}`)).toBeUndefined();
    expect(parseDecimal(`${'1'.repeat(60)}${' '.repeat(50)}`)).toBeUndefined();
    // The edges themselves are amounts.
    expect(decimalToString(parseDecimal('9'.repeat(30))!)).toBe('9'.repeat(30));
    expect(decimalToString(parseDecimal(`-0.${'1'.repeat(40)}`)!)).toBe(`-0.${'1'.repeat(40)}`);
    expect(decimalToString(parseDecimal('1e29')!)).toBe(`1${'0'.repeat(29)}`);
    expect(decimalToString(parseDecimal('0e5')!)).toBe('0');
  });
});
