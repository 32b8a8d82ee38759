import { gzipSync } from 'node:zlib';
import { billedCostOf, currencyOf } from '../../../collectors/formats/columns';
import { gcpBilledCost } from '../../../providers/gcp/columns';
import { openDecoded } from '../../../collectors/formats/decode';
import { readJsonlRows } from '../../../collectors/formats/jsonl-rows';
import { Decimal } from '../../../schemas/decimal';
import { ErrorCodes, InputError } from '../../../runtime/errors';
import { bytesOf, collect } from './helpers';

// Shaped like BigQuery EXPORT DATA (format='JSON') output of the standard usage cost table: INT64 as
// strings, FLOAT64 as numbers, `... UTC` timestamps, `<>&` escaped, REPEATED fields as arrays.
const row1 = String.raw`{"billing_account_id":"01A2B3-C4D5E6-F7A8B9","service":{"id":"6F81-5844-456A","description":"Compute Engine"},"sku":{"id":"2E27-4F75-95CD","description":"N1 \u003cPredefined\u003e Instance Core \u0026 RAM"},"usage_start_time":"2026-11-01 03:00:00 UTC","usage_end_time":"2026-11-01 04:00:00 UTC","project":{"id":"p1","number":"123456789012","labels":[{"key":"env","value":"prod"}],"ancestry_numbers":"/1/2/"},"labels":[{"key":"team","value":"a"},{"key":"team","value":"b"}],"system_labels":[],"location":{"location":"us-central1","region":"us-central1","zone":null},"export_time":"2026-11-02 01:11:12.066 UTC","cost":0.12345678901234567890,"currency":"EUR","currency_conversion_rate":0.9213,"usage":{"amount":3600,"unit":"seconds","amount_in_pricing_units":1.0000000000000002,"pricing_unit":"hour"},"credits":[{"name":"Sustained use discount","amount":-0.0123456789012345678,"full_name":"","id":"","type":"SUSTAINED_USAGE_DISCOUNT"},{"name":"Promo","amount":-1e-7,"type":"PROMOTION"}],"invoice":{"month":"202611","publisher_type":"GOOGLE"},"cost_type":"regular","adjustment_info":{"id":null},"cost_at_list":0.2,"transaction_type":"GOOGLE","seller_name":"","price":{"tier_start_amount":"0"},"resource":{"global_name":"//compute.googleapis.com/x"},"big":12345678901234567890123,"flag":true}`;
const row2 = `{"billing_account_id":"01A2B3-C4D5E6-F7A8B9","cost":2.5,"currency":"EUR","credits":[],"invoice":{"month":"202611"}}`;

describe('readJsonlRows', () => {
  it('flattens nested records to dot paths and keeps number text exactly', async () => {
    const rows = await collect(readJsonlRows(bytesOf(`${row1}\n${row2}\n`, 100), { object: 'part-0.jsonl' }));
    expect(rows).toHaveLength(2);
    const r = rows[0];
    if (r.kind !== 'row') throw new Error('expected a row');
    expect(r.line).toBe(1);
    const c = r.columns;
    expect(c['service.description']).toBe('Compute Engine');
    expect(c['sku.description']).toBe('N1 <Predefined> Instance Core & RAM');
    expect(c['project.number']).toBe('123456789012');
    expect(c.cost).toBe('0.12345678901234567890');
    expect(c['usage.amount_in_pricing_units']).toBe('1.0000000000000002');
    expect(c['usage.amount']).toBe('3600');
    expect(c.big).toBe('12345678901234567890123');
    expect(c.flag).toBe('true');
    expect(c['invoice.month']).toBe('202611');
    expect(c.usage_start_time).toBe('2026-11-01 03:00:00 UTC');
    // REPEATED fields stay JSON text, numbers inside them unchanged, duplicates kept.
    expect(c.labels).toBe('[{"key":"team","value":"a"},{"key":"team","value":"b"}]');
    expect(c['project.labels']).toBe('[{"key":"env","value":"prod"}]');
    expect(c.system_labels).toBe('[]');
    expect(c.credits).toContain('"amount":-0.0123456789012345678');
    expect(c.credits).toContain('"amount":-1e-7');
    // null and "" are null: omitted.
    expect(c).not.toHaveProperty('location.zone');
    expect(c).not.toHaveProperty('adjustment_info.id');
    expect(c).not.toHaveProperty('seller_name');
    expect(rows[1]).toEqual({
      kind: 'row',
      line: 2,
      columns: {
        billing_account_id: '01A2B3-C4D5E6-F7A8B9',
        cost: '2.5',
        currency: 'EUR',
        credits: '[]',
        'invoice.month': '202611',
      },
    });
  });

  it('computes the GCP billed cost exactly as cost + credits', async () => {
    const rows = await collect(readJsonlRows(bytesOf(`${row1}\n${row2}\n`), { object: 'p' }));
    const cols = rows.map((r) => (r.kind === 'row' ? r.columns : {}));
    expect(gcpBilledCost(cols[0])?.toFixed()).toBe('0.1111110101111111111');
    expect(billedCostOf('gcp-standard', cols[0])?.toFixed()).toBe('0.1111110101111111111');
    expect(billedCostOf('gcp-detailed', cols[1])?.toFixed()).toBe('2.5');
    expect(currencyOf('gcp-standard', cols[0])).toBe('EUR');
    const total = cols.reduce((s, c) => s.plus(gcpBilledCost(c) ?? 0), new Decimal(0));
    expect(total.toFixed()).toBe('2.6111110101111111111');
  });

  it('rejects unreadable credits instead of counting them as zero', () => {
    expect(() => gcpBilledCost({ cost: '1', credits: '[{amount: oops' })).toThrow(InputError);
    expect(gcpBilledCost({ credits: '[]' })).toBeUndefined();
  });

  it("reads koku's Python-repr credits exactly as normalize does (one billed-cost rule)", () => {
    expect(gcpBilledCost({ cost: '1', credits: "[{'name': 'x', 'amount': -0.5}]" })?.toFixed()).toBe('0.5');
  });

  it('reports bad lines as malformed with their line number and continues', async () => {
    const data = Buffer.concat([
      Buffer.from(`${row2}\r\n\r\n{"cost": 1,\n[1,2]\n"text"\n`),
      Buffer.from('{"cost":"'),
      Buffer.from([0xff, 0xfe]),
      Buffer.from(`"}\n{"a":{"b":1},"a.b":2}\n${row2}`),
    ]);
    const rows = await collect(readJsonlRows(bytesOf(data, 3), { object: 'p' }));
    expect(rows.map((r) => [r.kind, r.line])).toEqual([
      ['row', 1],
      ['malformed', 3],
      ['malformed', 4],
      ['malformed', 5],
      ['malformed', 6],
      ['malformed', 7],
      ['row', 8],
    ]);
    expect(rows[1]).toMatchObject({ message: expect.stringContaining('invalid JSON'), text: '{"cost": 1,' });
    expect(rows[2]).toMatchObject({ message: 'line is not a JSON object' });
    expect(rows[4]).toMatchObject({ message: 'line is not valid UTF-8' });
    expect(rows[5]).toMatchObject({ field: 'a.b' });
  });

  it('reads gzip shards through openDecoded, and an empty shard yields nothing', async () => {
    const gz = gzipSync(`${row2}\n${row2}\n`);
    const rows = await collect(
      readJsonlRows(await openDecoded(bytesOf(gz, 10), 'p.jsonl.gz'), { object: 'p' }),
    );
    expect(rows.map((r) => r.kind)).toEqual(['row', 'row']);
    expect(
      await collect(readJsonlRows(await openDecoded(bytesOf(gzipSync('')), 'e.gz'), { object: 'e' })),
    ).toEqual([]);
  });

  it('fails on a truncated gzip shard instead of ending early', async () => {
    const gz = gzipSync(Array.from({ length: 2000 }, () => row1).join('\n'));
    const run = async (): Promise<number> => {
      let n = 0;
      const s = await openDecoded(bytesOf(gz.subarray(0, gz.length - 100), 4096), 'p.jsonl.gz');
      for await (const r of readJsonlRows(s, { object: 'p' })) if (r.kind === 'row') n++;
      return n;
    };
    await expect(run()).rejects.toMatchObject({ code: ErrorCodes.UNREADABLE_OBJECT });
  });

  it('handles a line of several MB', async () => {
    const big = 'y'.repeat(5 * 1024 * 1024);
    const rows = await collect(readJsonlRows(bytesOf(`{"a":"${big}"}\n${row2}`, 65536), { object: 'p' }));
    expect(rows[0].kind === 'row' && rows[0].columns.a.length).toBe(big.length);
    expect(rows[1]).toMatchObject({ kind: 'row', line: 2 });
  });
});
