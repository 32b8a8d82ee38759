import { compileControlColumns } from '../formats/columns';
import type { ExportFormat } from '../../providers/registry';
import type { ExportTarget } from '../../providers/provider';
import type { ExportSource } from './collector';
import { listAll, readJsonObject } from './object-store';
import { openLines, type ReadLimits } from './read-lines';
import type { RevisionToWrite } from './revision-writer';

/**
 * Binds an object store and a discovery function into an ExportSource. The bucket is listed once
 * per pass; discovery reads only manifests and returns the current revision of every scope; the
 * writer then opens only the files the manifest lists.
 */
export function exportSource(
  { name, store, bucket, prefix, discover }: ExportTarget,
  limits: ReadLimits = {},
): ExportSource {
  return {
    name,
    location: `${store.location}/${prefix}`,
    async discover(): Promise<RevisionToWrite[]> {
      const objects = await listAll(store, prefix);
      const revisions = await discover({
        bucket,
        prefix,
        objects,
        readJson: (key) => readJsonObject(store, key),
        checkBucket: true,
      });
      return revisions.map((r) => ({
        provider: r.provider,
        format: r.format,
        scope: r.scope,
        revision_id: r.revision_id,
        billing_period: r.billing_period,
        files: r.files,
        expected_rows: r.expected_rows,
        billed_cost_column: r.billed_cost_column,
      }));
    },
    openLines: (_rev, key, onBytes) => openLines(store, key, onBytes, limits),
    urlOf: (key) => store.url(key),
    controlColumns: (rev, header) => compileControlColumns(rev.format as ExportFormat, header),
  };
}
