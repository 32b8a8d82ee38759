import { BILLED_COST, CURRENCY, CUR2_MAP_COLUMNS, PERIOD_COLUMNS, type AwsFormat } from './columns';
import { AwsConfigSchema, type AwsSection } from './config';
import { discoverAwsDataExports, discoverAwsLegacyCur } from './discovery';
import { createRequire } from 'node:module';
import { compileAws } from './to-focus';
import { compileFocus } from '../focus/to-focus';
import type { ProviderDefinition } from '../provider';
import type { DiscoveryInput } from '../../collectors/core/discovery';

// The cloud SDK loads when a collector of this provider starts, not with the registry: the
// processors, the sink and `meterflow rate` never need it.
const store = () => createRequire(__filename)('./store') as typeof import('./store');

/** Both AWS manifest families: legacy CUR and Data Exports (CUR 2.0, FOCUS). */
async function discoverBoth(input: DiscoveryInput) {
  return [...(await discoverAwsLegacyCur(input)), ...(await discoverAwsDataExports(input))];
}

/**
 * AWS: Cost and Usage Reports and Data Exports in S3 (docs/export-formats.md, "AWS").
 * Legacy CUR and CUR 2.0 map to FOCUS with the CUR mapping; AWS's own FOCUS export with the FOCUS one.
 */
export const aws = {
  name: 'aws',
  article: 'an AWS',
  formats: {
    'aws-cur-legacy': {
      billedCostColumns: BILLED_COST['aws-cur-legacy'],
      currencyColumns: CURRENCY['aws-cur-legacy'],
      toFocus: compileAws,
      infersCorrections: true,
    },
    'aws-cur2': {
      billedCostColumns: BILLED_COST['aws-cur2'],
      currencyColumns: CURRENCY['aws-cur2'],
      toFocus: compileAws,
      infersCorrections: true,
    },
    'aws-focus': {
      billedCostColumns: BILLED_COST['aws-focus'],
      currencyColumns: CURRENCY['aws-focus'],
      toFocus: compileFocus,
      infersCorrections: false,
    },
  },
  focusFormat: 'aws-focus',
  detect(_columns, lower) {
    if (lower.has('lineitem/unblendedcost')) return 'aws-cur-legacy';
    // Athena / Parquet style names are the legacy CUR flattened; CUR 2.0 keeps map columns.
    if (lower.has('line_item_unblended_cost'))
      return CUR2_MAP_COLUMNS.some((c) => lower.has(c)) ? 'aws-cur2' : 'aws-cur-legacy';
    return undefined;
  },
  periodColumns(columns) {
    const byLower = new Map(columns.map((c) => [c.toLowerCase(), c]));
    return PERIOD_COLUMNS.map((c) => ({ name: byLower.get(c.toLowerCase()) ?? c }));
  },
  discoverAtRest: discoverBoth,
  layout:
    'legacy CUR <report>/<yyyymmdd-yyyymmdd>/<report>-Manifest.json, or Data Exports ' +
    '<export>/metadata/BILLING_PERIOD=YYYY-MM/<export>-Manifest.json',
  tagKeys: 'AWS tag keys (user tags without the user: prefix) whose value is the customer id, in order.',
  collector: {
    config: AwsConfigSchema,
    /**
     * One target per configured export. `type` picks the manifest family: legacy CUR
     * (<report>-Manifest.json per billing-period folder, current assemblyId), Data Exports
     * (metadata/BILLING_PERIOD=YYYY-MM/<export>-Manifest.json, current executionId, for CUR 2.0
     * and FOCUS), or both.
     */
    targets(section) {
      const { createS3, S3ObjectStore } = store();
      const { client, credentialSource } = createS3(section);
      return section.exports.map((e) => ({
        name: e.name,
        store: new S3ObjectStore(client, e.bucket, credentialSource),
        bucket: e.bucket,
        prefix: e.prefix,
        discover:
          e.type === 'cur-legacy'
            ? discoverAwsLegacyCur
            : e.type === 'data-exports'
              ? discoverAwsDataExports
              : discoverBoth,
      }));
    },
    useLocalStack(section, stack) {
      if (section.endpoint) return;
      section.endpoint = `http://127.0.0.1:${stack.ports.s3}`;
      section.force_path_style ??= true;
      section.access_key_id ??= stack.s3_access_key;
      section.secret_access_key ??= stack.s3_secret_key;
    },
    secrets: (section) => [section.secret_access_key, section.session_token],
    exportCount: (section) => section.exports.length,
  },
} as const satisfies ProviderDefinition<AwsFormat, AwsSection>;
