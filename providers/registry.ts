import { aws } from './aws';
import { azure } from './azure';
import { focus } from './focus';
import { gcp } from './gcp';
import { platform } from './platform';
import type { CollectorDefinition, ExportFormatDefinition, ProviderDefinition } from './provider';

/**
 * The providers meterflow reads, and the only list of them. Adding one is a folder beside these
 * (see README, "Adding a provider") and one entry here; the config sections, the collectors, the
 * raw topics the normalize stage reads, the FOCUS mappings, `meterflow rate` and the attribution
 * tag keys all follow from this list.
 *
 * Order matters in one place: `meterflow rate` asks the providers in this order which format a
 * file without a manifest is.
 */
export const PROVIDERS = [aws, gcp, azure, focus, platform] as const;

type Provider = (typeof PROVIDERS)[number];

/** The FOCUS standard itself: what a provider's own FOCUS export is read as where it has no format of its own. */
export const FOCUS_PROVIDER: ProviderDefinition = focus;

/** A provider's id: the CLI argument, the raw topic suffix, the first part of every scope. */
export type ProviderName = Provider['name'];

/** Every export format of every provider (aws-cur-legacy, azure-focus, gcp-detailed, focus, ...). */
export type ExportFormat = { [P in Provider as P['name']]: keyof P['formats'] }[ProviderName] & string;

/** Providers whose exports a collector reads from object storage. */
export type CollectingProvider = Extract<Provider, { collector: unknown }>;
export type CollectorName = CollectingProvider['name'];

/** The config section type of each collecting provider (`aws:`, `gcp:`, `azure:`). */
export type ProviderSections = {
  [P in CollectingProvider as P['name']]: P['collector'] extends CollectorDefinition<infer S> ? S : never;
};

export const PROVIDER_NAMES: readonly ProviderName[] = PROVIDERS.map((p) => p.name);

export const COLLECTING_PROVIDERS: readonly CollectingProvider[] = PROVIDERS.filter(
  (p): p is CollectingProvider => 'collector' in p,
);

/** Providers whose rows arrive on a raw topic (a collector's, or the event ingest endpoint's): what normalize reads. */
export const RAW_TOPIC_PROVIDERS: readonly ProviderName[] = PROVIDERS.filter(
  (p) => 'collector' in p || ('ingested' in p && p.ingested === true),
).map((p) => p.name);

/** The providers `meterflow collect` accepts. */
export const COLLECTOR_NAMES: readonly CollectorName[] = COLLECTING_PROVIDERS.map((p) => p.name);

export function isProviderName(name: string): name is ProviderName {
  return (PROVIDER_NAMES as readonly string[]).includes(name);
}

export function providerNamed(name: ProviderName): ProviderDefinition<string, unknown> {
  return PROVIDERS.find((p) => p.name === name) as ProviderDefinition<string, unknown>;
}

const FORMATS: ReadonlyMap<string, { provider: ProviderName; definition: ExportFormatDefinition }> = new Map(
  PROVIDERS.flatMap((p) =>
    Object.entries(p.formats as Record<string, ExportFormatDefinition>).map(
      ([format, definition]) => [format, { provider: p.name, definition }] as const,
    ),
  ),
);

/** Every export format, in registry order. */
export const EXPORT_FORMATS: readonly ExportFormat[] = [...FORMATS.keys()] as ExportFormat[];

export function isExportFormat(format: string): format is ExportFormat {
  return FORMATS.has(format);
}

/** The definition of a known format; throws on an unknown one (callers check isExportFormat first). */
export function formatDefinition(format: ExportFormat): ExportFormatDefinition {
  const f = FORMATS.get(format);
  if (f === undefined) throw new Error(`unknown export format "${format}"`);
  return f.definition;
}

/** The definition of `format`, or undefined when no provider writes it. */
export function findFormat(format: string): ExportFormatDefinition | undefined {
  return FORMATS.get(format)?.definition;
}
