import { z } from 'zod';
import { count, parseWith } from '../../collectors/core/discovery';

// ---------------------------------------------------------------------------------------------
// Azure Cost Management exports v2 `manifest.json` (docs/export-formats.md, "Azure exports v2 layout and
// manifest"; field names from consumer code)

const azureBlobSchema = z.looseObject({
  blobName: z.string().min(1),
  byteCount: count.optional(),
  dataRowCount: count.optional(),
});

const azureManifestSchema = z.looseObject({
  manifestVersion: z.string().optional(),
  byteCount: count.optional(),
  blobCount: count.optional(),
  dataRowCount: count.optional(),
  exportConfig: z.looseObject({
    exportName: z.string().optional(),
    resourceId: z.string().optional(),
    dataVersion: z.string().optional(),
    apiVersion: z.string().optional(),
    // ActualCost | AmortizedCost | FocusCost | PriceSheet | ... ; the dataset decides the format.
    type: z.string().min(1),
    timeFrame: z.string().optional(),
    granularity: z.string().optional(),
  }),
  deliveryConfig: z
    .looseObject({
      partitionData: z.boolean().optional(),
      dataOverwriteBehavior: z.string().optional(),
      fileFormat: z.string().optional(),
      compressionMode: z.string().optional(),
      containerName: z.string().optional(),
      rootFolderPath: z.string().optional(),
      resourceId: z.string().optional(),
    })
    .optional(),
  runInfo: z.looseObject({
    executionType: z.string().optional(),
    submittedTime: z.string().optional(),
    runId: z.string().optional(),
    startDate: z.string().optional(),
    endDate: z.string().optional(),
  }),
  // A 0-row run still writes a manifest, possibly with an empty or absent list.
  blobs: z.array(azureBlobSchema).default([]),
});
export type AzureExportManifest = z.infer<typeof azureManifestSchema> & {
  /** Rows the run states: top-level dataRowCount, else the sum over blobs if every blob states one. */
  expectedRows: number | null;
};

export function parseAzureExportManifest(value: unknown, object: string): AzureExportManifest {
  const m = parseWith(azureManifestSchema, value, object, 'Azure export manifest');
  let expectedRows: number | null = m.dataRowCount ?? null;
  if (expectedRows === null && m.blobs.every((b) => b.dataRowCount !== undefined)) {
    expectedRows = m.blobs.reduce((s, b) => s + (b.dataRowCount ?? 0), 0);
  }
  return { ...m, expectedRows };
}

/** Legacy partitioned-export `_manifest.json` (manifestVersion 2021-01-01). */
const azureLegacyManifestSchema = z.looseObject({
  manifestVersion: z.string().optional(),
  dataFormat: z.string().optional(),
  blobCount: count.optional(),
  byteCount: count.optional(),
  dataRowCount: count.optional(),
  blobs: z.array(azureBlobSchema.extend({ headerRowCount: count.optional() })),
});
export type AzureLegacyManifest = z.infer<typeof azureLegacyManifestSchema>;

export function parseAzureLegacyManifest(value: unknown, object: string): AzureLegacyManifest {
  return parseWith(azureLegacyManifestSchema, value, object, 'Azure legacy export manifest');
}
