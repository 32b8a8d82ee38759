import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { sourcesFor } from '../../../collectors/command';
import { stagesFor } from '../../../cli/supervisor';
import { DEFAULT_NORMALIZE_OPTIONS, SUPPORTED_FORMATS } from '../../../processors/normalize';
import { AttributionConfigSchema } from '../../../processors/normalize/attribution';
import type { ExportFormatDefinition, ProviderDefinition } from '../../../providers/provider';
import {
  COLLECTING_PROVIDERS,
  EXPORT_FORMATS,
  PROVIDERS,
  PROVIDER_NAMES,
  formatDefinition,
} from '../../../providers/registry';
import { MeterflowConfigSchema } from '../../../runtime/config';

const ROOT = join(__dirname, '../../..');

function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return tsFiles(p);
    return p.endsWith('.ts') && !p.endsWith('.generated.ts') ? [p] : [];
  });
}

describe('the provider registry', () => {
  it('names each provider once and each export format once', () => {
    expect(new Set(PROVIDER_NAMES).size).toBe(PROVIDERS.length);
    const formats = PROVIDERS.flatMap((p) => Object.keys(p.formats));
    expect(new Set(formats).size).toBe(formats.length);
    expect([...EXPORT_FORMATS].sort()).toEqual([...formats].sort());
    // normalize supports exactly the registry's formats: no table of its own.
    expect([...SUPPORTED_FORMATS].sort()).toEqual([...formats].sort());
  });

  it('gives every format control-total columns and a FOCUS mapping that compiles', () => {
    for (const format of EXPORT_FORMATS) {
      const def: ExportFormatDefinition = formatDefinition(format);
      expect(def.billedCostColumns.length).toBeGreaterThan(0);
      expect(def.currencyColumns.length).toBeGreaterThan(0);
      expect(typeof def.toFocus(['BilledCost', 'cost'], DEFAULT_NORMALIZE_OPTIONS)).toBe('function');
    }
  });

  it("names a FOCUS format each provider owns, or the plain 'focus'", () => {
    for (const p of PROVIDERS as readonly ProviderDefinition[]) {
      expect(p.focusFormat === 'focus' || p.focusFormat in p.formats).toBe(true);
    }
  });

  it('builds one config section per collecting provider, with no exports by default', () => {
    const config = MeterflowConfigSchema.parse({}) as unknown as Record<string, { exports: unknown[] }>;
    for (const p of COLLECTING_PROVIDERS) expect(config[p.name].exports).toEqual([]);
    const unknown = MeterflowConfigSchema.safeParse({ acme: { exports: [] } });
    expect(unknown.success).toBe(false);
  });

  it('turns configured exports into collector sources and supervisor stages', () => {
    const config = MeterflowConfigSchema.parse({
      local_stack: true,
      aws: { region: 'us-east-1', endpoint: 'http://127.0.0.1:9', exports: [{ name: 'cur', bucket: 'b' }] },
    });
    expect(sourcesFor('aws', config).map((s) => s.name)).toEqual(['cur']);
    expect(sourcesFor('gcp', config)).toEqual([]);
    const stages = stagesFor(config).map((s) => s.name);
    expect(stages.filter((s) => s.startsWith('collect-'))).toEqual(['collect-aws']);
  });

  it('offers an attribution tag-key list for each provider that declares one', () => {
    const tagKeys = AttributionConfigSchema.parse({}).tag_keys as Record<string, string[]>;
    const declared = (PROVIDERS as readonly ProviderDefinition[]).filter((p) => p.tagKeys).map((p) => p.name);
    expect(Object.keys(tagKeys).sort()).toEqual(declared.sort());
  });

  it('is the only place that names a provider: no code outside providers/ spells one', () => {
    // Comments may mention clouds; code may not branch on or list them.
    const offenders: string[] = [];
    for (const folder of [
      'cli',
      'runtime',
      'collectors',
      'processors',
      'sinks',
      'invoices',
      'api',
      'schemas',
      'ingest',
    ]) {
      for (const file of tsFiles(join(ROOT, folder))) {
        const code = readFileSync(file, 'utf8')
          .replace(/\/\*[\s\S]*?\*\//g, '')
          .replace(/\/\/.*$/gm, '');
        for (const name of PROVIDER_NAMES) {
          if (new RegExp(`['"\`]${name}['"\`]`).test(code))
            offenders.push(`${relative(ROOT, file)}: '${name}'`);
        }
      }
    }
    expect(offenders).toEqual([]);
  });
});
