import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { parse } from 'csv-parse/sync';

/**
 * The one way tests find and read fixture files. Every sample file is stored once, under
 * test/fixtures/<provider or area>/, with its origin and licence in that folder's README.txt.
 */
export const FIXTURES = resolve(__dirname, '..', 'fixtures');

/** Absolute path of a fixture file or folder, from its path parts below test/fixtures. */
export function fixture(...parts: string[]): string {
  return join(FIXTURES, ...parts);
}

/** The bytes of a fixture file, from its path parts below test/fixtures. */
export function readFixture(...parts: string[]): Buffer {
  return readFileSync(fixture(...parts));
}

/** A fixture file as UTF-8 text. */
export function readFixtureText(...parts: string[]): string {
  return readFileSync(fixture(...parts), 'utf8');
}

/** A JSON fixture file, parsed. */
export function readFixtureJson<T = unknown>(...parts: string[]): T {
  return JSON.parse(readFixtureText(...parts)) as T;
}

/**
 * The rows of a CSV file (plain or gzip, by its magic bytes) read with csv-parse, not with the code
 * under test: header line as keys, BOM stripped, short rows allowed, blank lines skipped. `line` is
 * the file line a row ends on (the header is line 1).
 */
export function readCsvFileWithLines(file: string): Array<{ line: number; record: Record<string, string> }> {
  let bytes = readFileSync(file);
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) bytes = gunzipSync(bytes);
  const rows = parse(bytes, {
    columns: true,
    bom: true,
    relax_column_count: true,
    skip_empty_lines: true,
    info: true,
  }) as Array<{ record: Record<string, string>; info: { lines: number } }>;
  return rows.map((r) => ({ line: r.info.lines, record: r.record }));
}

/** The rows of a CSV file (plain or gzip) as header -> value maps; see readCsvFileWithLines. */
export function readCsvFile(file: string): Array<Record<string, string>> {
  return readCsvFileWithLines(file).map((r) => r.record);
}
