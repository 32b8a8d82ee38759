import type { Readable } from 'node:stream';
import { openDecoded } from '../formats/decode';
import { readCsvRows } from '../formats/csv-rows';
import { readJsonlRows } from '../formats/jsonl-rows';
import { ErrorCodes, PermanentError } from '../../runtime/errors';
import type { ObjectStore } from './object-store';
import type { ParsedLine } from './revision-writer';

/**
 * Opens one export object as a stream of parsed lines: decompression is detected from the bytes
 * (gzip, zip), the parser is chosen from the object name. Nothing is buffered whole: memory stays
 * flat whatever the object size.
 */
export function parserFor(key: string): 'csv' | 'jsonl' {
  const name = key.toLowerCase().replace(/\.(gz|gzip|zip)$/, '');
  if (name.endsWith('.csv')) return 'csv';
  if (name.endsWith('.json') || name.endsWith('.jsonl') || name.endsWith('.ndjson')) return 'jsonl';
  throw new PermanentError(
    ErrorCodes.UNREADABLE_OBJECT,
    `${key}: unsupported export file type (expected .csv, .csv.gz, .csv.zip, .json, .jsonl or .json.gz)`,
  );
}

export async function openLines(
  store: ObjectStore,
  key: string,
  onBytes?: (n: number) => void,
): Promise<AsyncIterable<ParsedLine>> {
  const kind = parserFor(key);
  const object = store.url(key);
  const raw: Readable = await store.open(key);
  if (onBytes) raw.on('data', (chunk: Buffer) => onBytes(chunk.length));
  const bytes = await openDecoded(raw, object);
  return kind === 'csv' ? readCsvRows(bytes, { object }) : readJsonlRows(bytes, { object });
}
