import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import { CsvRowResult, readCsvRows } from '../../../collectors/formats/csv-rows';
import { openDecoded } from '../../../collectors/formats/decode';
import { columnsOf, type MapLine, type ParsedLine } from '../../../collectors/formats/rows';

/** A byte stream that delivers `data` in chunks of `chunk` bytes (to hit every chunk boundary). */
export function bytesOf(data: Buffer | string, chunk = 64 * 1024): Readable {
  const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  const parts: Buffer[] = [];
  for (let i = 0; i < buf.length; i += chunk) parts.push(buf.subarray(i, i + chunk));
  return Readable.from(parts, { objectMode: false });
}

export async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

export async function readBytes(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** Decode (gzip / zip / plain) and parse a fixture CSV file. */
export async function readFixtureCsv(path: string): Promise<CsvRowResult[]> {
  const bytes = await openDecoded(createReadStream(path), path);
  return collect(readCsvRows(bytes, { object: path }));
}

/** The data rows of a reader's results (positional or map-shaped), without the malformed ones. */
export function rowsOnly<T extends ParsedLine | MapLine>(results: T[]): Extract<T, { kind: 'row' }>[] {
  return results.filter((r): r is Extract<T, { kind: 'row' }> => r.kind === 'row');
}

/**
 * Positional rows as name -> value maps (`columnsOf`: empty values omitted), so assertions can name
 * columns; malformed results pass through unchanged.
 */
export function rowsWithColumns(results: readonly ParsedLine[]): MapLine[] {
  return results.map((r) =>
    r.kind === 'row' ? { kind: 'row', line: r.line, columns: columnsOf(r.header, r.values) } : r,
  );
}

export { makeZip } from '../../support/zip';

/** A plausible Azure Cost Management exports v2 manifest.json (no public real one exists). */
export function azureManifest(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    manifestVersion: '2024-04-01',
    byteCount: 300,
    blobCount: 2,
    dataRowCount: 7,
    exportConfig: {
      exportName: 'daily-actual',
      resourceId: '/subscriptions/s1/providers/Microsoft.CostManagement/exports/daily-actual',
      dataVersion: '2021-10-01',
      apiVersion: '2023-07-01-preview',
      type: 'ActualCost',
      timeFrame: 'MonthToDate',
      granularity: 'Daily',
    },
    deliveryConfig: {
      partitionData: true,
      dataOverwriteBehavior: 'CreateNewReport',
      fileFormat: 'Csv',
      compressionMode: 'gzip',
      containerName: 'costs',
      rootFolderPath: 'exports',
    },
    runInfo: {
      executionType: 'Scheduled',
      submittedTime: '2026-11-05T04:00:00.0000000Z',
      runId: 'run-1',
      startDate: '2026-11-01T00:00:00',
      endDate: '2026-11-30T00:00:00',
    },
    blobs: [
      {
        blobName: 'exports/daily-actual/20261101-20261130/run-1/part_0_0001.csv.gz',
        byteCount: 100,
        dataRowCount: 3,
      },
      {
        blobName: 'exports/daily-actual/20261101-20261130/run-1/part_1_0001.csv.gz',
        byteCount: 200,
        dataRowCount: 4,
      },
    ],
    ...overrides,
  };
}
