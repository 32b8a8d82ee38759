import { BILLED_COST, CURRENCY, GCP_BILLED_COST_RULE, PERIOD_COLUMNS, type GcpFormat } from './columns';
import { GcpConfigSchema, type GcpSection } from './config';
import { discoverGcpExports, discoverGcpAtRest } from './discovery';
import { createRequire } from 'node:module';
import { compileGcp } from './to-focus';
import type { ProviderDefinition } from '../provider';

// The cloud SDK loads when a collector of this provider starts, not with the registry: the
// processors, the sink and `meterflow rate` never need it.
const store = () => createRequire(__filename)('./store') as typeof import('./store');

const hasResourceColumns = (columns: readonly string[]) => columns.some((c) => c.startsWith('resource.'));

/**
 * Google Cloud: BigQuery billing export tables, exported to GCS by a scheduled EXPORT DATA query
 * in the layout meterflow defines (README, "GCP export layout"; docs/export-formats.md, "GCP").
 * The billed cost is cost + the sum of credits, so both formats carry a billed-cost rule.
 */
export const gcp = {
  name: 'gcp',
  article: 'a Google Cloud',
  formats: {
    'gcp-standard': {
      billedCostColumns: BILLED_COST['gcp-standard'],
      currencyColumns: CURRENCY['gcp-standard'],
      billedCostRule: GCP_BILLED_COST_RULE,
      toFocus: compileGcp,
      // Its invoice month is a US/Pacific month: the first UTC hours of a month legitimately
      // precede BillingPeriodStart, and adjustment_info says what a correction is.
      infersCorrections: false,
    },
    'gcp-detailed': {
      billedCostColumns: BILLED_COST['gcp-detailed'],
      currencyColumns: CURRENCY['gcp-detailed'],
      billedCostRule: GCP_BILLED_COST_RULE,
      toFocus: compileGcp,
      infersCorrections: false,
    },
  },
  focusFormat: 'focus',
  detect(columns, lower) {
    if (!lower.has('cost') || !(lower.has('usage_start_time') || lower.has('billing_account_id'))) {
      return undefined;
    }
    return hasResourceColumns(columns) ? 'gcp-detailed' : 'gcp-standard';
  },
  // Standard and detailed exports share a layout; the detailed one has resource.* columns.
  refineFormat: (format, columns) => (hasResourceColumns(columns) ? 'gcp-detailed' : format),
  periodColumns(columns) {
    const byLower = new Map(columns.map((c) => [c.toLowerCase(), c]));
    return PERIOD_COLUMNS.map((c) => ({ ...c, name: byLower.get(c.name.toLowerCase()) ?? c.name }));
  },
  discoverAtRest: discoverGcpAtRest,
  layout: '<billing account>/<YYYYMM>/run=<RUN_ID>/part-*.jsonl(.gz)|.csv(.gz) with a _SUCCESS marker',
  tagKeys: 'GCP label keys whose value is the customer id, in order.',
  collector: {
    config: GcpConfigSchema,
    targets(section, { localStack }) {
      const { createGcs, GcsObjectStore } = store();
      const { client, credentialSource } = createGcs(section, localStack);
      return section.exports.map((e) => ({
        name: e.name,
        store: new GcsObjectStore(client, e.bucket, credentialSource),
        bucket: e.bucket,
        prefix: e.prefix,
        discover: (input) => discoverGcpExports(input),
      }));
    },
    useLocalStack(section, stack) {
      section.endpoint ??= `http://127.0.0.1:${stack.ports.gcs}`;
      section.project_id ??= 'meterflow-local';
    },
    secrets: () => [],
    exportCount: (section) => section.exports.length,
  },
} as const satisfies ProviderDefinition<GcpFormat, GcpSection>;
