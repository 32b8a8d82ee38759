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
});
