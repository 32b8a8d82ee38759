import type { MeterflowConfig } from '../../runtime/config';
import { createGcs } from '../../runtime/object-storage';
import { discoverGcpExports } from '../formats/discovery';
import type { ExportSource } from '../core/collector';
import { exportSource } from '../core/export-source';
import { GcsObjectStore } from '../core/object-store';

/**
 * GCP collector sources. GCP writes no manifest: the layout
 * <prefix>/<billing account>/<YYYYMM>/run=<RUN_ID>/part-*.jsonl.gz plus a completion marker is the
 * contract a team sets up with a scheduled BigQuery EXPORT DATA query (README: "GCP export layout").
 */
export function gcpSources(config: MeterflowConfig): ExportSource[] {
  const { client, credentialSource } = createGcs(config);
  return config.gcp.exports.map((e) => {
    const store = new GcsObjectStore(client, e.bucket, credentialSource);
    return exportSource(e.name, store, e.bucket, e.prefix, (input) => discoverGcpExports(input));
  });
}
