import { z } from 'zod';
import { ErrorCodes, InputError } from '../../runtime/errors';

/*
 * Provider manifests. Every schema is loose (unknown fields pass through): providers add fields
 * without notice, and only the fields discovery depends on are required. Fields that
 * docs/export-formats.md marks unconfirmed are optional and accept several spellings.
 */

function parseWith<T>(schema: z.ZodType<T>, value: unknown, object: string, kind: string): T {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const field = issue.path.length ? issue.path.map(String).join('.') : undefined;
  throw new InputError(ErrorCodes.MALFORMED_INPUT, `invalid ${kind}: ${issue.message}`, { object, field });
}

// Counts sometimes arrive as strings (JSON writers that protect 64-bit integers).
const count = z.union([
  z.number().int().nonnegative(),
  z
    .string()
    .regex(/^\d+$/)
    .transform((s) => Number(s)),
]);

/** `20180801T000000.000Z` (legacy CUR), ISO-8601, or `YYYY-MM-DD` -> `YYYY-MM`. */
export function periodOf(text: string): string | undefined {
  const m = /^(\d{4})-?(\d{2})/.exec(text.trim());
  return m ? `${m[1]}-${m[2]}` : undefined;
}

// ---------------------------------------------------------------------------------------------
// AWS legacy CUR `<report>-Manifest.json` (docs/export-formats.md, "AWS legacy CUR manifest")

const legacyCurManifestSchema = z.looseObject({
  assemblyId: z.string().min(1),
  account: z.string().optional(),
  reportId: z.string().optional(),
  reportName: z.string().optional(),
  billingPeriod: z.looseObject({ start: z.string().min(1), end: z.string().min(1) }),
  // Can be "" (the fixtures) when the report has no explicit bucket.
  bucket: z.string().optional(),
  // Keys can start with "/" when the report has no prefix.
  reportKeys: z.array(z.string().min(1)),
  // `type` only in newer manifests; the list can be shorter than the CSV header (57 vs 130).
  columns: z
    .array(z.looseObject({ category: z.string(), name: z.string(), type: z.string().optional() }))
    .default([]),
  charset: z.string().optional(),
  compression: z.string().optional(),
  contentType: z.string().optional(),
  additionalArtifactKeys: z.array(z.unknown()).optional(),
});
export type LegacyCurManifest = z.infer<typeof legacyCurManifestSchema>;

export function parseLegacyCurManifest(value: unknown, object: string): LegacyCurManifest {
  const m = parseWith(legacyCurManifestSchema, value, object, 'AWS CUR manifest');
  if (!periodOf(m.billingPeriod.start)) {
    throw new InputError(
      ErrorCodes.MALFORMED_INPUT,
      `unrecognised billing period start ${m.billingPeriod.start}`,
      {
        object,
        field: 'billingPeriod.start',
      },
    );
  }
  return m;
}

// ---------------------------------------------------------------------------------------------
// AWS Data Exports (CUR 2.0, FOCUS) `metadata/BILLING_PERIOD=YYYY-MM/<export>-Manifest.json`
// (docs/export-formats.md, "AWS Data Exports layout and manifest")

const dataExportsManifestSchema = z.looseObject({
  executionId: z.string().min(1),
  // Full `s3://bucket/key` URLs per the documentation; plain keys are accepted too.
  dataFiles: z.array(z.string().min(1)),
  // [unconfirmed] object {start, end} as in legacy CUR; a bare "YYYY-MM" is tolerated.
  billingPeriod: z
    .union([z.looseObject({ start: z.string(), end: z.string().optional() }), z.string()])
    .optional(),
  columns: z.array(z.looseObject({ name: z.string(), type: z.string().optional() })).optional(),
  exportArn: z.string().optional(),
  exportName: z.string().optional(),
  queryStatement: z.string().optional(),
  // [unconfirmed] row count field names are not documented; any of these is used when present.
  totalRowCount: count.optional(),
  rowCount: count.optional(),
  numberOfRows: count.optional(),
});
export type DataExportsManifest = z.infer<typeof dataExportsManifestSchema> & {
  /** The row count the manifest states, if it states one. */
  expectedRows: number | null;
  /** `YYYY-MM`, if the manifest states a billing period. */
  period: string | undefined;
};

export function parseDataExportsManifest(value: unknown, object: string): DataExportsManifest {
  const m = parseWith(dataExportsManifestSchema, value, object, 'AWS Data Exports manifest');
  const bp = m.billingPeriod;
  const period = bp === undefined ? undefined : periodOf(typeof bp === 'string' ? bp : bp.start);
  return { ...m, expectedRows: m.totalRowCount ?? m.rowCount ?? m.numberOfRows ?? null, period };
}

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

// ---------------------------------------------------------------------------------------------
// Our GCP run marker (see discoverGcpExports): optional content, one JSON row written by EXPORT DATA.

const gcpMarkerSchema = z.looseObject({
  // INT64 columns arrive as JSON strings from EXPORT DATA.
  row_count: count.optional(),
  max_export_time: z.string().optional(),
});
export type GcpRunMarker = z.infer<typeof gcpMarkerSchema>;

export function parseGcpRunMarker(value: unknown, object: string): GcpRunMarker {
  return parseWith(gcpMarkerSchema, value, object, 'GCP run marker');
}
