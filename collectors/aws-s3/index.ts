import type { MeterflowConfig } from '../../runtime/config';
import { createS3 } from '../../runtime/object-storage';
import { discoverAwsDataExports, discoverAwsLegacyCur, type DiscoveryInput } from '../formats/discovery';
import type { ExportSource } from '../core/collector';
import { exportSource } from '../core/export-source';
import { S3ObjectStore } from '../core/object-store';

/**
 * AWS collector sources: one per configured export (aws.exports). `type` picks the manifest
 * family: legacy CUR (<report>-Manifest.json per billing-period folder, current assemblyId),
 * Data Exports (metadata/BILLING_PERIOD=YYYY-MM/<export>-Manifest.json, current executionId, for
 * CUR 2.0 and FOCUS), or both.
 */
export function awsSources(config: MeterflowConfig): ExportSource[] {
  const { client, credentialSource } = createS3(config);
  return config.aws.exports.map((e) => {
    const store = new S3ObjectStore(client, e.bucket, credentialSource);
    const discover = async (input: DiscoveryInput) => {
      const found = [];
      if (e.type !== 'data-exports') found.push(...(await discoverAwsLegacyCur(input)));
      if (e.type !== 'cur-legacy') found.push(...(await discoverAwsDataExports(input)));
      return found;
    };
    return exportSource(e.name, store, e.bucket, e.prefix, discover);
  });
}
