import { readCsvRows } from '../../../collectors/formats/csv-rows';
import { HeaderBuilder, columnsOf, positional, type MapLine } from '../../../collectors/formats/rows';
import { InputError } from '../../../runtime/errors';
import { planFor, parseNormalizeOptions } from '../../../processors/normalize';
import { bytesOf, collect } from './helpers';

describe('positional rows', () => {
  it('gives every row of a CSV object the same header array, values in file order', async () => {
    const rows = await collect(readCsvRows(bytesOf('a,b,c\n1,,3\n4,5\n', 3), { object: 'x' }));
    expect(rows).toHaveLength(2);
    const [r1, r2] = rows;
    if (r1.kind !== 'row' || r2.kind !== 'row') throw new Error('expected rows');
    expect(r1.header).toBe(r2.header);
    expect(r1.header).toEqual(['a', 'b', 'c']);
    expect(r1.values).toEqual(['1', '', '3']);
    expect(columnsOf(r2.header, r2.values)).toEqual({ a: '4', b: '5' });
  });

  it('reads a record of one quoted empty field as data, not as a blank line', async () => {
    const rows = await collect(readCsvRows(bytesOf('a\n""\n\nx\n'), { object: 'x' }));
    expect(rows.map((r) => r.line)).toEqual([2, 4]);
  });

  it('fails the object naming the line when a quote sits inside an unquoted field', async () => {
    const err = await collect(readCsvRows(bytesOf('a,b\n1,2\n1,x"y\n'), { object: 'obj.csv' })).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(InputError);
    expect((err as Error).message).toContain('obj.csv, line 3');
  });

  it('grows a running header for map-shaped rows and keeps it when no new column comes', async () => {
    async function* maps(): AsyncGenerator<MapLine> {
      yield { kind: 'row', line: 1, columns: { cost: '1', currency: 'EUR' } };
      yield { kind: 'row', line: 2, columns: { currency: 'USD' } };
      yield { kind: 'malformed', line: 3, message: 'bad', text: '{' };
      yield { kind: 'row', line: 4, columns: { cost: '2', credits: '[]' } };
    }
    const out = await collect(positional(maps()));
    const rows = out.filter((r) => r.kind === 'row');
    expect(rows[0].header).toBe(rows[1].header);
    expect(rows[1].values).toEqual(['', 'USD']);
    expect(rows[2].header).toEqual(['cost', 'currency', 'credits']);
    expect(rows[2].values).toEqual(['2', '', '[]']);
    // Earlier rows keep the header they were read under.
    expect(rows[0].header).toEqual(['cost', 'currency']);
    expect(out[2]).toEqual({ kind: 'malformed', line: 3, message: 'bad', text: '{' });
  });

  it('HeaderBuilder makes a new header array only when a column is added', () => {
    const b = new HeaderBuilder();
    const h1 = b.toPositional({ x: '1' }).header;
    expect(b.toPositional({ x: '2' }).header).toBe(h1);
    expect(b.toPositional({ y: '3' }).header).not.toBe(h1);
  });
});

describe('compiled normalize plans', () => {
  it('compiles once per header: the same array, or equal names decoded from another message', () => {
    const options = parseNormalizeOptions({});
    const header = ['lineItem/UnblendedCost', 'lineItem/CurrencyCode'];
    const plan = planFor('aws-cur-legacy', header, options);
    expect(plan).toBeDefined();
    expect(planFor('aws-cur-legacy', header, options)).toBe(plan);
    expect(planFor('aws-cur-legacy', [...header], options)).toBe(plan);
    expect(planFor('aws-cur-legacy', [...header, 'lineItem/UsageAmount'], options)).not.toBe(plan);
    expect(planFor('no-such-format', header, options)).toBeUndefined();
  });
});
