import { Totals, RATE_EXIT, rateExitCode } from '../../../../processors/offline/summary';
import { Decimal, decimalToString, parseDecimal } from '../../../../schemas/decimal';
import { prng } from '../../../support/random';

function amount(rand: () => number): string {
  const digits = (n: number) => Array.from({ length: n }, () => String(Math.floor(rand() * 10))).join('');
  const sign = rand() < 0.2 ? '-' : '';
  const intPart = rand() < 0.5 ? '0' : digits(1 + Math.floor(rand() * 12));
  const frac = rand() < 0.15 ? '' : `.${digits(1 + Math.floor(rand() * 22))}`;
  return `${sign}${intPart}${frac}`;
}

/** The reference: one Decimal sum per currency, as the totals were kept before. */
function decimalTotals(entries: Array<[string, string]>): Record<string, string> {
  const sums = new Map<string, Decimal>();
  for (const [c, t] of entries) sums.set(c, (sums.get(c) ?? new Decimal(0)).plus(parseDecimal(t) as Decimal));
  return Object.fromEntries(
    [...sums.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([c, d]) => [c, decimalToString(d)]),
  );
}

describe('Totals', () => {
  it('sums decimal text exactly, per currency, as a Decimal sum does', () => {
    const rand = prng(7);
    const entries: Array<[string, string]> = [];
    for (let i = 0; i < 20_000; i++) entries.push([['USD', 'EUR', 'JPY'][i % 3], amount(rand)]);
    const totals = new Totals();
    for (const [c, t] of entries) totals.addText(c, t);
    expect(totals.toRecord()).toEqual(decimalTotals(entries));
  });

  it('reads text that is not plain decimal as a Decimal, and mixes with Decimal amounts', () => {
    const texts = ['1e-7', '+5', ' 3.25 ', '.5', '7.', '-0', '0.000', '-2.5E+3', `0.${'1'.repeat(40)}`, '12'];
    const totals = new Totals();
    for (const t of texts) totals.addText('USD', t);
    totals.add('USD', new Decimal('0.000000001'));
    totals.add('CHF', new Decimal('-1.25'));
    totals.addText('CHF', '1.25');
    const expected = texts
      .map((t) => parseDecimal(t) as Decimal)
      .reduce((a, b) => a.plus(b), new Decimal('0.000000001'));
    expect(totals.toRecord()).toEqual({ CHF: '0', USD: decimalToString(expected) });
  });

  it('gives the same total when one text is added to two totals in a row (at-cost rating)', () => {
    const billed = new Totals();
    const rated = new Totals();
    const rand = prng(3);
    const entries: Array<[string, string]> = [];
    for (let i = 0; i < 1_000; i++) {
      const t = amount(rand);
      entries.push(['USD', t]);
      billed.addText('USD', t);
      rated.addText('USD', t);
    }
    expect(billed.toRecord()).toEqual(decimalTotals(entries));
    expect(rated.toRecord()).toEqual(decimalTotals(entries));
  });

  it('lists a currency with a zero total and nothing for no amounts', () => {
    const totals = new Totals();
    expect(totals.toRecord()).toEqual({});
    totals.addText('USD', '1.5');
    totals.addText('USD', '-1.50');
    expect(totals.toRecord()).toEqual({ USD: '0' });
  });
});

describe('rateExitCode', () => {
  it('tells a rated export from one that only produced dead letters or warnings', () => {
    expect(rateExitCode({ rows_in: 10, rows_out: 9, warnings: [] })).toBe(RATE_EXIT.OK);
    expect(rateExitCode({ rows_in: 0, rows_out: 0, warnings: [] })).toBe(RATE_EXIT.OK);
    expect(rateExitCode({ rows_in: 10, rows_out: 10, warnings: ['row count differs'] })).toBe(
      RATE_EXIT.WARNINGS,
    );
    expect(rateExitCode({ rows_in: 10, rows_out: 0, warnings: [] })).toBe(RATE_EXIT.NOTHING_RATED);
    expect(rateExitCode({ rows_in: 10, rows_out: 0, warnings: ['x'] })).toBe(RATE_EXIT.NOTHING_RATED);
  });
});
