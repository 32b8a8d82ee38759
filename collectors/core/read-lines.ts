import type { Readable } from 'node:stream';
import { MAX_EXPANSION_RATIO_DEFAULT, openDecoded } from '../formats/decode';
import { readCsvRows } from '../formats/csv-rows';
import { readJsonlRows } from '../formats/jsonl-rows';
import { readParquetRows } from '../formats/parquet-rows';
import { readAvroRows } from '../formats/avro-rows';
import { ErrorCodes, PermanentError } from '../../runtime/errors';
import type { ObjectStore } from './object-store';
import { positional, type ParsedLine } from '../formats/rows';

/**
 * Opens one export object as a stream of parsed lines: decompression is detected from the bytes
 * (gzip, zip), the parser is chosen from the object name. Nothing is buffered whole: memory stays
 * flat whatever the object size.
 */
export function parserFor(key: string): 'csv' | 'jsonl' | 'parquet' | 'avro' {
  const lower = key.toLowerCase();
  if (lower.endsWith('.parquet')) return 'parquet';
  if (lower.endsWith('.avro')) return 'avro';
  const name = lower.replace(/\.(gz|gzip|zip)$/, '');
  if (name.endsWith('.csv')) return 'csv';
  if (name.endsWith('.json') || name.endsWith('.jsonl') || name.endsWith('.ndjson')) return 'jsonl';
  throw new PermanentError(
    ErrorCodes.UNREADABLE_OBJECT,
    `${key}: unsupported export file type (expected .csv, .csv.gz, .csv.zip, .json, .jsonl, .json.gz, .parquet or .avro)`,
  );
}

export interface ReadLimits {
  /** Longest CSV record or JSON line held before the object fails (collector.max_record_bytes). */
  maxRecordBytes?: number;
  /** Decompression bomb guard (collector.max_expansion_ratio). */
  maxExpansionRatio?: number;
  /** Where zip objects are spooled (collector.spool_dir). */
  spoolDir?: string;
}

export async function openLines(
  store: ObjectStore,
  key: string,
  onBytes?: (n: number) => void,
  limits: ReadLimits = {},
): Promise<AsyncIterable<ParsedLine>> {
  const kind = parserFor(key);
  const object = store.url(key);
  if (kind === 'parquet') {
    // Parquet is read by ranges (footer first, then one row group at a time), never whole.
    const range = await store.openRange(key);
    const counted = {
      byteLength: range.byteLength,
      slice: async (start: number, end: number) => {
        const buf = await range.slice(start, end);
        onBytes?.(buf.byteLength);
        return buf;
      },
    };
    return positional(readParquetRows(counted, { object }));
  }
  const raw: Readable = await store.open(key);
  if (onBytes) raw.on('data', (chunk: Buffer) => onBytes(chunk.length));
  const bytes = await openDecoded(raw, object, {
    maxExpansionRatio: limits.maxExpansionRatio ?? MAX_EXPANSION_RATIO_DEFAULT,
    spoolDir: limits.spoolDir,
  });
  if (kind === 'avro') return positional(readAvroRows(bytes, { object }));
  // CSV is positional as read; the map-shaped readers go through one running header per object.
  const options = { object, maxRecordBytes: limits.maxRecordBytes };
  return kind === 'csv' ? readCsvRows(bytes, options) : positional(readJsonlRows(bytes, options));
}
