import { USAGE_DECIMAL_FIELDS } from '../../schemas/money';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { backwardIncompatibilities } from '../../schemas/compatibility';
import { generateTypes } from '../../schemas/generate-types';
import { AvroTypes } from '../../schemas';
import { usageRecord } from '../support/usage-record';

const dir = path.join(__dirname, '../../schemas');
const schemaFiles = fs.readdirSync(dir).filter((f) => f.endsWith('.avsc'));

/** The schema as committed on main (falls back to origin/main), or undefined for a new schema. */
function onMain(file: string): unknown {
  for (const ref of ['main', 'origin/main']) {
    try {
      const text = execFileSync('git', ['show', `${ref}:schemas/${file}`], {
        cwd: dir,
        stdio: ['ignore', 'pipe', 'ignore'],
      }).toString();
      return JSON.parse(text);
    } catch {
      /* try the next ref */
    }
  }
  return undefined;
}

describe('topic schemas', () => {
  it.each(schemaFiles)('%s is backward compatible with the version on main', (file) => {
    const current = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8'));
    const committed = onMain(file) ?? current;
    expect(backwardIncompatibilities(current, committed)).toEqual([]);
  });

  it('the compatibility check rejects a change old records cannot be read with', () => {
    const v1 = { type: 'record', name: 'R', fields: [{ name: 'a', type: 'string' }] };
    const addedWithDefault = {
      ...v1,
      fields: [...v1.fields, { name: 'b', type: ['null', 'string'], default: null }],
    };
    const addedWithoutDefault = { ...v1, fields: [...v1.fields, { name: 'b', type: 'string' }] };
    const retyped = { ...v1, fields: [{ name: 'a', type: 'long' }] };
    expect(backwardIncompatibilities(addedWithDefault, v1)).toEqual([]);
    expect(backwardIncompatibilities(addedWithoutDefault, v1)).toHaveLength(1);
    expect(backwardIncompatibilities(retyped, v1)).toHaveLength(1);
  });

  it('the TypeScript types are the current rendering of the schemas', () => {
    // A stale types.generated.ts means TS code and wire format could drift apart.
    const generated = fs.readFileSync(path.join(dir, 'types.generated.ts'), 'utf8');
    const normalize = (s: string) => s.replace(/\s+/g, '');
    expect(normalize(generated)).toBe(normalize(generateTypes(dir)));
  });

  it('the shared test builder makes a valid usage record', () => {
    expect(AvroTypes.usageRecord.isValid(usageRecord())).toBe(true);
  });

  it('round-trips a usage record with exact decimal strings', () => {
    const record = usageRecord({
      ProviderName: 'AWS',
      ChargeCategory: 'Usage',
      ChargePeriodStart: '2026-11-01T00:00:00Z',
      ChargePeriodEnd: '2026-11-01T01:00:00Z',
      BillingPeriodStart: '2026-11-01T00:00:00Z',
      BillingPeriodEnd: '2026-12-01T00:00:00Z',
      BilledCost: '0.000000000123456789012345',
      EffectiveCost: '0.000000000123456789012345',
      BillingCurrency: 'USD',
      x_RecordId: 'r',
      x_Scope: 's',
      x_Revision: 'v',
      x_BillingPeriod: '2026-11',
      x_SourceFormat: 'aws-cur-legacy',
      x_SourceObject: 's3://b/k',
      x_SourceLine: 2,
      x_CustomerId: 'acme',
      x_AttributionRule: 'unallocated',
      Tags: { team: 'core' },
    });
    const back = AvroTypes.usageRecord.fromBuffer(AvroTypes.usageRecord.toBuffer(record)) as Record<
      string,
      unknown
    >;
    expect(back.BilledCost).toBe('0.000000000123456789012345');
    expect(back.Tags).toEqual({ team: 'core' });
  });
});

describe('schemas/money.ts', () => {
  it('lists exactly the UsageRecord fields the Avro schema marks as exact decimal text', () => {
    const fields = (AvroTypes.usageRecord as unknown as { fields: Array<{ name: string; doc?: string }> })
      .fields;
    const marked = fields.filter((f) => (f.doc ?? '').includes('exact decimal text')).map((f) => f.name);
    expect([...USAGE_DECIMAL_FIELDS]).toEqual(marked);
  });
});
