import { z } from 'zod';
import { count, parseWith, periodOf } from '../../collectors/core/discovery';
import { ErrorCodes, InputError } from '../../runtime/errors';

export { periodOf };

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
