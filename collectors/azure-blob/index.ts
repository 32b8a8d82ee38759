import type { MeterflowConfig } from '../../runtime/config';
import { createAzureBlob } from '../../runtime/object-storage';
import { discoverAzureAllExports } from '../formats/discovery';
import type { ExportSource } from '../core/collector';
import { exportSource } from '../core/export-source';
import { AzureBlobObjectStore } from '../core/object-store';

/**
 * Azure collector sources: Cost Management exports v2 (a manifest.json per run, the newest run
 * of a month folder is current) for ActualCost, AmortizedCost and FocusCost datasets, and legacy
 * exports (partitioned with _manifest.json, or one CSV per run).
 */
export function azureSources(config: MeterflowConfig): ExportSource[] {
  const { client, credentialSource } = createAzureBlob(config);
  return config.azure.exports.map((e) => {
    const store = new AzureBlobObjectStore(client, e.container, credentialSource);
    return exportSource(e.name, store, e.container, e.prefix, discoverAzureAllExports);
  });
}
