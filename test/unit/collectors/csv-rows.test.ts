import { readCsvHeader, readCsvRows } from '../../../collectors/formats/csv-rows';
import type { MapLine } from '../../../collectors/formats/rows';
import { ErrorCodes, InputError } from '../../../runtime/errors';
import { bytesOf, collect, rowsWithColumns } from './helpers';

const CHUNK_SIZES = [1, 2, 7, 64, 65536];

async function read(
  data: Buffer | string,
  chunk = 65536,
  aliases?: (h: string) => string,
): Promise<MapLine[]> {
  return rowsWithColumns(
    await collect(readCsvRows(bytesOf(data, chunk), { object: 'mem.csv', headerAliases: aliases })),
  );
}

describe('readCsvRows', () => {
  it('strips a UTF-8 BOM, also when it arrives split across chunks', async () => {
    const data = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('Cost,Currency\n1.5,EUR\n')]);
    for (const chunk of CHUNK_SIZES) {
      expect(await read(data, chunk)).toEqual([
        { kind: 'row', line: 2, columns: { Cost: '1.5', Currency: 'EUR' } },
      ]);
    }
  });

  it('keeps a BOM-like sequence that is not at the start of the file', async () => {
    const rows = await read('a\n\ufeffx\n');
    expect(rows).toEqual([{ kind: 'row', line: 2, columns: { a: '\ufeffx' } }]);
  });

  it('gives the physical start line of records with quoted newlines (LF and CRLF), commas and blank lines', async () => {
    const text =
      'id,desc,cost\r\n' + // 1
      '1,"plain, with comma",0.1\r\n' + // 2
      '2,"two\r\nlines",0.2\r\n' + // 3-4
      '\r\n' + // 5 (blank)
      '3,"three\nlf\nlines ""quoted""",0.3\n' + // 6-8 (LF in the middle of a CRLF file)
      '4,last,0.4'; // 9, no final newline
    for (const chunk of CHUNK_SIZES) {
      const rows = await read(text, chunk);
      expect(rows.map((r) => r.line)).toEqual([2, 3, 6, 9]);
      expect(rows.map((r) => (r.kind === 'row' ? r.columns.desc : r.message))).toEqual([
        'plain, with comma',
        'two\r\nlines',
        'three\nlf\nlines "quoted"',
        'last',
      ]);
    }
  });

  it('omits empty values and accepts rows shorter than the header', async () => {
    const rows = await read('a,b,c,d\n1,,3\n,,,\n5\n');
    expect(rows).toEqual([
      { kind: 'row', line: 2, columns: { a: '1', c: '3' } },
      { kind: 'row', line: 3, columns: {} },
      { kind: 'row', line: 4, columns: { a: '5' } },
    ]);
  });

  it('reports rows longer than the header as malformed with their line, and goes on', async () => {
    const rows = await read('a,b\n1,2\n3,4,5\n"x\ny",6,7,8\n9,10\n');
    expect(rows).toEqual([
      { kind: 'row', line: 2, columns: { a: '1', b: '2' } },
      { kind: 'malformed', line: 3, message: 'row has 3 fields, header has 2', text: '3,4,5' },
      { kind: 'malformed', line: 4, message: 'row has 4 fields, header has 2', text: '"x\ny",6,7,8' },
      { kind: 'row', line: 6, columns: { a: '9', b: '10' } },
    ]);
  });

  it('reports invalid UTF-8 bytes naming the field, and reads the next rows', async () => {
    const data = Buffer.concat([
      Buffer.from('name,region,cost\nok,eu,1\nbad,'),
      Buffer.from([0x4d, 0xfc, 0x6e, 0x63, 0x68, 0x65, 0x6e]), // "München" in Latin-1
      Buffer.from(',2\nfine,"Zürich \ufffd literal",3\n'),
    ]);
    for (const chunk of [1, 5, 65536]) {
      const rows = await read(data, chunk);
      expect(rows).toHaveLength(3);
      expect(rows[0]).toMatchObject({ kind: 'row', line: 2 });
      expect(rows[1]).toMatchObject({ kind: 'malformed', line: 3, field: 'region' });
      expect((rows[1] as { message: string }).message).toContain('not valid UTF-8');
      // A real U+FFFD in valid UTF-8 is data, not an encoding error.
      expect(rows[2]).toEqual({
        kind: 'row',
        line: 4,
        columns: { name: 'fine', region: 'Zürich \ufffd literal', cost: '3' },
      });
    }
  });

  it('reads a field of several MB in a streamed file', async () => {
    const big = 'x'.repeat(6 * 1024 * 1024);
    const data = `a,b\n1,"${big}\nmore"\n2,small\n`;
    const rows = await read(data, 64 * 1024);
    expect(rows).toHaveLength(2);
    expect(rows[0].kind === 'row' && rows[0].columns.b.length).toBe(big.length + 5);
    expect(rows[1]).toEqual({ kind: 'row', line: 4, columns: { a: '2', b: 'small' } });
  });

  it('yields nothing for a header-only file, a header without newline, blank lines and a 0-byte file', async () => {
    expect(await read('a,b,c\n')).toEqual([]);
    expect(await read('a,b,c')).toEqual([]);
    expect(await read('a,b\r\n\r\n\r\n')).toEqual([]);
    expect(await read('')).toEqual([]);
    expect(await readCsvHeader(bytesOf(''), { object: 'e' })).toEqual([]);
  });

  it('keeps both values of duplicate header names, suffixing the later ones', async () => {
    const rows = await read('Cost,Tags,Cost,,Cost\n1,t,2,x,3\n');
    expect(rows).toEqual([
      { kind: 'row', line: 2, columns: { Cost: '1', Tags: 't', 'Cost#2': '2', '#4': 'x', 'Cost#3': '3' } },
    ]);
  });

  it('applies header aliases before detecting duplicates', async () => {
    const alias = (h: string): string => {
      const m = /\(([^)]+)\)\s*$/.exec(h);
      return m ? m[1] : h;
    };
    const rows = await read(
      'Abonnement-GUID (SubscriptionGuid),Kosten (PreTaxCost),PreTaxCost\ns1,1,2\n',
      65536,
      alias,
    );
    expect(rows).toEqual([
      { kind: 'row', line: 2, columns: { SubscriptionGuid: 's1', PreTaxCost: '1', 'PreTaxCost#2': '2' } },
    ]);
  });

  it('fails the object with InputError naming the line when a quote is never closed', async () => {
    const err = await read('a,b\n1,2\n3,"open\n4,5\n').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(InputError);
    expect((err as InputError).code).toBe(ErrorCodes.MALFORMED_INPUT);
    expect((err as InputError).where).toEqual({ object: 'mem.csv', line: 3 });
  });

  it('readCsvHeader returns the header names without reading the rows', async () => {
    expect(await readCsvHeader(bytesOf('\ufeffx,y,x\n1,2,3\n'), { object: 'h' })).toEqual(['x', 'y', 'x#2']);
  });

  it('numbers many rows right whatever the chunking', async () => {
    const lines = ['k,v'];
    const expected: number[] = [];
    let physical = 1;
    for (let i = 0; i < 300; i++) {
      const multi = i % 7 === 0;
      lines.push(multi ? `${i},"a\r\nb\nc"` : `${i},v${i}`);
      expected.push(physical + 1);
      physical += multi ? 3 : 1;
    }
    const text = lines.map((l, i) => l + (i % 2 ? '\r\n' : '\n')).join('');
    for (const chunk of [3, 1000]) {
      expect((await read(text, chunk)).map((r) => r.line)).toEqual(expected);
    }
  });
});
