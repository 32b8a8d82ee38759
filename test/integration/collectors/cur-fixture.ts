import zlib from 'node:zlib';
import { CreateBucketCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';

/**
 * Builds legacy CUR deliveries (create-new layout) in a bucket: data files under
 * <report>/<period>/<assemblyId>/ and the period-level manifest written LAST, as AWS does.
 */
export const CUR_HEADER = [
  'identity/LineItemId',
  'identity/TimeInterval',
  'bill/BillingPeriodStartDate',
  'bill/BillingPeriodEndDate',
  'lineItem/UsageAccountId',
  'lineItem/LineItemType',
  'lineItem/UsageStartDate',
  'lineItem/UsageEndDate',
  'lineItem/ProductCode',
  'lineItem/UsageAmount',
  'lineItem/CurrencyCode',
  'lineItem/UnblendedCost',
  'lineItem/LineItemDescription',
];

export interface CurLine {
  id: string;
  product: string;
  cost: string;
  type?: string;
  description?: string;
}

/**
 * `n` CUR lines with distinct exact costs (`0.<line>1`, or `1.<line>1` when `restated`: every cost
 * changed), alternating EC2 and S3; `description` gives a line its own description.
 */
export function curLines(
  n: number,
  opts: { restated?: boolean; description?: (i: number) => string } = {},
): CurLine[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `l${i}`,
    product: i % 2 ? 'AmazonEC2' : 'AmazonS3',
    cost: `${opts.restated ? 1 : 0}.${String(i).padStart(6, '0')}1`,
    ...(opts.description ? { description: opts.description(i) } : {}),
  }));
}

export function curCsv(lines: CurLine[]): string {
  const esc = (v: string) => (/[",\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);
  const rows = lines.map((l) =>
    [
      l.id,
      '2026-11-01T00:00:00Z/2026-11-01T01:00:00Z',
      '2026-11-01T00:00:00Z',
      '2026-12-01T00:00:00Z',
      '111122223333',
      l.type ?? 'Usage',
      '2026-11-01 00:00:00',
      '2026-11-01 01:00:00',
      l.product,
      '1',
      'USD',
      l.cost,
      l.description ?? `${l.product} usage`,
    ]
      .map(esc)
      .join(','),
  );
  return [CUR_HEADER.join(','), ...rows].join('\n') + '\n';
}

export async function ensureBucket(s3: S3Client, bucket: string): Promise<void> {
  await s3.send(new CreateBucketCommand({ Bucket: bucket })).catch((err: { name?: string }) => {
    if (err.name !== 'BucketAlreadyOwnedByYou' && err.name !== 'BucketAlreadyExists') throw err;
  });
}

export async function putCurRevision(
  s3: S3Client,
  bucket: string,
  report: string,
  assemblyId: string,
  files: Array<{ name: string; body: Buffer }>,
  opts: { writeManifest?: boolean; extraManifestKeys?: string[] } = {},
): Promise<void> {
  const period = '20261101-20261201';
  const keys: string[] = [];
  for (const f of files) {
    const key = `${report}/${period}/${assemblyId}/${f.name}`;
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: f.body }));
    keys.push(key);
  }
  if (opts.writeManifest === false) return;
  const manifest = {
    assemblyId,
    account: '111122223333',
    columns: [],
    charset: 'UTF-8',
    compression: 'GZIP',
    contentType: 'text/csv',
    reportId: 'r',
    reportName: report,
    billingPeriod: { start: '20261101T000000.000Z', end: '20261201T000000.000Z' },
    bucket,
    reportKeys: [...keys, ...(opts.extraManifestKeys ?? [])],
  };
  await s3.send(
    new PutObjectCommand({
      Bucket: bucket,
      Key: `${report}/${period}/${report}-Manifest.json`,
      Body: JSON.stringify(manifest),
    }),
  );
}

export const gz = (text: string) => zlib.gzipSync(Buffer.from(text));
