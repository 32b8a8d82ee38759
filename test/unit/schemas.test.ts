import { USAGE_DECIMAL_FIELDS } from '../../schemas/money';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { backwardIncompatibilities } from '../../schemas/compatibility';
import { generateTypes } from '../../schemas/generate-types';
import avro from 'avsc';
import { AvroTypes, previousVersions, TopicSchema } from '../../schemas';
import { fingerprintOf } from '../../schemas/single-object';

const typeOf = (schema: unknown) => avro.Type.forSchema(schema as avro.Schema, { wrapUnions: false });
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

  it.each(schemaFiles)(
    '%s: a changed schema keeps the released version it replaces under history/',
    (file) => {
      const current = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8'));
      const committed = onMain(file);
      if (committed === undefined || fingerprintOf(typeOf(committed)).equals(fingerprintOf(typeOf(current))))
        return;
      const kept = previousVersions(file.replace(/\.avsc$/, '')).map((t) => fingerprintOf(t).toString('hex'));
      expect(kept).toContain(fingerprintOf(typeOf(committed)).toString('hex'));
    },
  );

  /** The .avsc file of an AvroTypes entry: rawRowBatch -> raw-row-batch. */
  const fileOf = (name: string) => name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
  const released = Object.entries(AvroTypes)
    .map(([name, schema]) => [name, schema, previousVersions(fileOf(name))] as const)
    .filter(([, , versions]) => versions.length > 0);
  // Random values of every shape each schema allows (avsc's Type#random), 20 per check.
  const samples = (t: avro.Type) =>
    Array.from({ length: 20 }, () => t.random() as unknown as Record<string, unknown>);
  const fieldsOf = (t: avro.Type) =>
    (t as unknown as { fields: Array<{ name: string }> }).fields.map((f) => f.name);

  it('keeps released versions of the schemas that changed', () => {
    expect(released.map(([name]) => name)).toContain('usageRecord');
  });

  describe.each(released)('%s across its released versions, on real bytes', (name, schema, versions) => {
    it.each(versions.map((v, i) => [i + 1, v] as const))(
      'the new reader decodes version %i bytes',
      (_n, old) => {
        const writer = new TopicSchema(name, old);
        for (const value of samples(old)) {
          const read = schema.fromBuffer(writer.toBuffer(value)) as Record<string, unknown>;
          expect(schema.isValid(read)).toBe(true);
          for (const f of fieldsOf(old)) expect(read[f]).toEqual(value[f]);
        }
      },
    );

    it.each(versions.map((v, i) => [i + 1, v] as const))(
      'a version %i reader decodes the new bytes',
      (_n, old) => {
        // What an older consumer does once it has the new writer schema (from a registry or an upgrade).
        const resolver = old.createResolver(schema.type);
        for (const value of samples(schema.type)) {
          const read = old.fromBuffer(schema.toBuffer(value).subarray(10), resolver) as Record<
            string,
            unknown
          >;
          expect(old.isValid(read)).toBe(true);
          for (const f of fieldsOf(old)) expect(read[f]).toEqual(value[f]);
        }
      },
    );
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
    const fields = (
      AvroTypes.usageRecord.type as unknown as { fields: Array<{ name: string; doc?: string }> }
    ).fields;
    const marked = fields.filter((f) => (f.doc ?? '').includes('exact decimal text')).map((f) => f.name);
    expect([...USAGE_DECIMAL_FIELDS]).toEqual(marked);
  });
});
