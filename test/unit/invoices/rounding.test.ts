import { Decimal } from '../../../schemas/decimal';
import { formatAmount, minorUnits, roundAmount } from '../../../invoices';

const r = (v: string, c: string) => formatAmount(roundAmount(new Decimal(v), c), c);

describe('invoice rounding: once per line, HALF_EVEN, ISO 4217 minor units', () => {
  it('knows the minor units', () => {
    expect([minorUnits('EUR'), minorUnits('USD'), minorUnits('JPY'), minorUnits('KRW')]).toEqual([
      2, 2, 0, 0,
    ]);
    expect([minorUnits('CLP'), minorUnits('ISK'), minorUnits('VND')]).toEqual([0, 0, 0]);
    expect([minorUnits('KWD'), minorUnits('BHD'), minorUnits('OMR'), minorUnits('JOD')]).toEqual([
      3, 3, 3, 3,
    ]);
    expect([minorUnits('TND'), minorUnits('IQD'), minorUnits('LYD')]).toEqual([3, 3, 3]);
  });

  it('rounds ties to the even neighbour in EUR (2 decimals)', () => {
    expect(r('0.125', 'EUR')).toBe('0.12'); // tie, 2 is even: down
    expect(r('0.135', 'EUR')).toBe('0.14'); // tie, 3 is odd: up to 4
    expect(r('0.1251', 'EUR')).toBe('0.13'); // not a tie: nearest
    expect(r('-0.125', 'EUR')).toBe('-0.12'); // symmetric for credits
    expect(r('0.1', 'EUR')).toBe('0.10'); // always shown with the minor unit
    expect(r('-0.004', 'EUR')).toBe('0.00'); // never "-0.00"
  });

  it('rounds JPY to whole yen and KWD to fils (3 decimals)', () => {
    expect(r('1234.5', 'JPY')).toBe('1234'); // tie, 4 even
    expect(r('1235.5', 'JPY')).toBe('1236'); // tie, 5 odd
    expect(r('99.49', 'JPY')).toBe('99');
    expect(r('1.2345', 'KWD')).toBe('1.234'); // tie, 4 even
    expect(r('1.2355', 'KWD')).toBe('1.236'); // tie, 5 odd
    expect(r('2', 'KWD')).toBe('2.000');
  });

  it('refuses to format an unrounded amount', () => {
    expect(() => formatAmount(new Decimal('0.125'), 'EUR')).toThrow(/more than 2 decimals/);
  });
});
