import { BILLED_COST, COST_KEYS, CURRENCY, PERIOD_KEYS, type AzureFormat } from './columns';
import { AZURITE_ACCOUNT, AZURITE_KEY, AzureConfigSchema, type AzureSection } from './config';
import { discoverAzureAllExports } from './discovery';
import { createRequire } from 'node:module';
import { azureKey, compileAzure } from './to-focus';
import { compileFocus } from '../focus/to-focus';
import type { ProviderDefinition } from '../provider';

// The cloud SDK loads when a collector of this provider starts, not with the registry: the
// processors, the sink and `meterflow rate` never need it.
const store = () => createRequire(__filename)('./store') as typeof import('./store');

/**
 * Azure: Cost Management exports in Blob storage (docs/export-formats.md, "Azure"): exports v2 (a
 * manifest.json per run, the newest run of a month folder is current) for the ActualCost,
 * AmortizedCost and FocusCost datasets, and legacy exports (partitioned with _manifest.json, or one
 * CSV per run).
 */
export const azure = {
  name: 'azure',
  article: 'an Azure',
  formats: {
    'azure-actual': {
      billedCostColumns: BILLED_COST['azure-actual'],
      currencyColumns: CURRENCY['azure-actual'],
      toFocus: compileAzure,
      infersCorrections: true,
    },
    'azure-amortized': {
      billedCostColumns: BILLED_COST['azure-amortized'],
      currencyColumns: CURRENCY['azure-amortized'],
      toFocus: compileAzure,
      infersCorrections: true,
    },
    'azure-focus': {
      billedCostColumns: BILLED_COST['azure-focus'],
      currencyColumns: CURRENCY['azure-focus'],
      toFocus: compileFocus,
      infersCorrections: false,
    },
  },
  focusFormat: 'azure-focus',
  detect(columns, _lower, fileName) {
    if (!columns.some((c) => COST_KEYS.has(azureKey(c)))) return undefined;
    // Both datasets share one header: only the file name tells amortized from actual.
    return /amorti[sz]ed/i.test(fileName) ? 'azure-amortized' : 'azure-actual';
  },
  periodColumns: (columns) =>
    PERIOD_KEYS.flatMap((k) => columns.filter((c) => azureKey(c) === k)).map((name) => ({ name })),
  discoverAtRest: discoverAzureAllExports,
  layout: 'Cost Management exports v2 <export>/<yyyymmdd-yyyymmdd>/<run>/manifest.json',
  tagKeys: 'Azure tag keys whose value is the customer id, in order.',
  collector: {
    config: AzureConfigSchema,
    targets(section) {
      const { AzureBlobObjectStore, createAzureBlob } = store();
      const { client, credentialSource } = createAzureBlob(section);
      return section.exports.map((e) => ({
        name: e.name,
        store: new AzureBlobObjectStore(client, e.container, credentialSource),
        bucket: e.container,
        prefix: e.prefix,
        discover: discoverAzureAllExports,
      }));
    },
    useLocalStack(section, stack) {
      if (section.connection_string || section.account_name) return;
      section.connection_string =
        `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT};AccountKey=${AZURITE_KEY};` +
        `BlobEndpoint=http://127.0.0.1:${stack.ports.azure_blob}/${AZURITE_ACCOUNT};`;
    },
    secrets: (section) => [
      section.account_key,
      section.sas_token,
      section.connection_string?.match(/AccountKey=([^;]+)/)?.[1],
    ],
    exportCount: (section) => section.exports.length,
  },
} as const satisfies ProviderDefinition<AzureFormat, AzureSection>;
