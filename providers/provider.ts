import type { z } from 'zod';
import type { DiscoveredRevision, DiscoveryInput } from '../collectors/core/discovery';
import type { ObjectStore } from '../collectors/core/object-store';
import type { Header } from '../collectors/formats/rows';
import type { Decimal } from '../schemas/decimal';
import type { MapperCompiler } from '../processors/normalize/types';

/**
 * What meterflow knows about one source of billing data. Each provider folder (aws/, gcp/, azure/,
 * focus/) exports one `ProviderDefinition`, and providers/registry.ts lists them; nothing else in
 * the code base names a provider. The rest of the pipeline asks the registry:
 *
 *   collectors/   the config section, object-store access and discovery of revisions;
 *   collectors/   the control-total rule (billed-cost and currency columns of each format);
 *   processors/   the mapping of each format to FOCUS, and the raw topic it is read from;
 *   meterflow rate  format detection of a file without a manifest, a row's billing period,
 *                 discovery in a local folder.
 *
 * A provider definition imports nothing that imports the registry (collectors/core, the normalize
 * value parsers, schemas), so the registry can be read from anywhere without an import cycle.
 */

/** A billed cost that is not one column (GCP: cost + the sum of credits[].amount). */
export interface BilledCostRule {
  /** Compiled for one header: the billed cost of a row, undefined when empty; throws InputError. */
  compile(header: Header): (values: readonly string[]) => Decimal | undefined;
  /** The same rule on a row given as a name -> text map (the sink's v1 control totals). */
  ofColumns(columns: Record<string, string>): Decimal | undefined;
}

/** One export format a provider writes (a column layout with its own mapping to FOCUS). */
export interface ExportFormatDefinition {
  /**
   * Candidate names of the billed-cost column in order of preference, matched exactly and then
   * case-insensitively. The first is what a revision of this format is expected to carry.
   */
  readonly billedCostColumns: readonly string[];
  /** Candidate names of the billing-currency column, as above. */
  readonly currencyColumns: readonly string[];
  /** Replaces the single-column billed cost where the provider's billed amount is a sum. */
  readonly billedCostRule?: BilledCostRule;
  /** The mapping to FOCUS, compiled once per header (processors/normalize/normalize.ts, planFor). */
  readonly toFocus: MapperCompiler;
  /**
   * Whether normalize marks a credit or adjustment whose charge period ended before the billing
   * period as a correction (FOCUS ChargeClass). False where the source states it itself (FOCUS) or
   * where such rows are ordinary (GCP's invoice month is a US/Pacific month).
   */
  readonly infersCorrections: boolean;
  /**
   * How revisions of one scope relate. Absent or 'replace' (every export): a newer revision holds
   * the whole scope again and supersedes the older one. 'accumulate' (first-party events): each
   * revision is a sealed slice of new lines, revision ids grow with commit order, and every
   * reconciled revision stays visible; the publisher shows a scope's revisions up to the newest id
   * below which all have reconciled (accumulatedWatermarks in
   * sinks/elasticsearch/publication-rules.ts).
   */
  readonly revisions?: 'replace' | 'accumulate';
}

/** A column that can give a row's billing period when a file comes without a manifest. */
export interface PeriodColumn {
  name: string;
  /** `YYYYMM` text (GCP invoice.month) rather than a timestamp. */
  yyyymm?: boolean;
}

/**
 * A client built from the config section. Explicit settings win; anything left unset falls through
 * to the SDK's default credential chain. `credentialSource` says which was used, so an access error
 * can name it without naming the secret.
 */
export interface StoreClient<T> {
  client: T;
  credentialSource: string;
}

/** One configured export: the bucket to list and how to find its revisions there. */
export interface ExportTarget {
  /** Name of the export in logs, metrics and scopes. */
  name: string;
  store: ObjectStore;
  /** Bucket (S3, GCS) or container (Azure); part of every scope. */
  bucket: string;
  prefix: string;
  discover(input: DiscoveryInput): Promise<DiscoveredRevision[]>;
}

/** The local stack a provider's collector talks to with `local_stack: true`. */
export interface LocalStack {
  ports: { s3: number; gcs: number; azure_blob: number };
  s3_access_key: string;
  s3_secret_key: string;
}

/** What a provider with object-storage exports adds: the collector side. */
export interface CollectorDefinition<Section> {
  /** The provider's section of meterflow.yaml (`aws:`, `gcp:`, `azure:`); holds `exports`. */
  readonly config: z.ZodType<Section, unknown>;
  /** One target per configured export, with the SDK client built from the section. */
  targets(section: Section, ctx: { localStack: boolean }): ExportTarget[];
  /** Fills unset connection settings with the local stack's servers. */
  useLocalStack(section: Section, stack: LocalStack): void;
  /** Secret values of the section, registered so logs and errors never print them. */
  secrets(section: Section): Array<string | undefined>;
  /** How many exports the section configures (a collector runs only when there is one). */
  exportCount(section: Section): number;
}

export interface ProviderDefinition<Formats extends string = string, Section = unknown> {
  /** Lower-case id: the CLI argument, the raw topic suffix, the first part of every scope. */
  readonly name: string;
  /** As said in a sentence: "looks like an AWS export". */
  readonly article: string;
  readonly formats: Readonly<Record<Formats, ExportFormatDefinition>>;
  /** The format a FOCUS file rated with `--provider <name>` gets (aws-focus, azure-focus, focus). */
  readonly focusFormat: Formats | 'focus';
  /**
   * Which of this provider's formats a file is, from its column names (`lower` holds them in lower
   * case), or undefined when the file is not this provider's. FOCUS files are recognised before any
   * provider is asked.
   */
  detect?(columns: readonly string[], lower: ReadonlySet<string>, fileName: string): Formats | undefined;
  /** The columns that give a row's billing period, resolved against a file's column names. */
  periodColumns(columns: readonly string[]): PeriodColumn[];
  /** Discovery in a local folder at rest (`meterflow rate --input <folder>`): any depth, no quiet period. */
  discoverAtRest(input: DiscoveryInput): Promise<DiscoveredRevision[]>;
  /** The layout discoverAtRest looks for, said when it finds nothing. */
  readonly layout: string;
  /** The format of a revision once its first file's columns are known (GCP: standard or detailed). */
  refineFormat?(format: Formats, columns: readonly string[]): Formats;
  /** Description of `normalize.attribution.tag_keys.<name>`; absent when the provider has no tags of its own. */
  readonly tagKeys?: string;
  readonly collector?: CollectorDefinition<Section>;
  /**
   * Rows reach `<prefix>.raw.<name>` from something other than a collector (platform: the event
   * ingest endpoint), so the normalize stage reads that topic too.
   */
  readonly ingested?: boolean;
}
