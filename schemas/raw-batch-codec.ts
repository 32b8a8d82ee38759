import { AvroTypes } from './index';
import type { RawRow, RawRowBatch, SharedValue } from './types.generated';

/**
 * The raw-topic v2 message (RawRowBatch) as the stages handle it: every row's values complete, in
 * header order. On the wire, the columns whose value is the same in every row of a message are
 * written once (`shared`) and left out of the rows. In a 500-row batch of a CUR that is the billing
 * period, the payer, the invoice and the dozens of columns the export leaves empty, which is what
 * brings a raw row below the size of its CSV line. The collector encodes, normalize decodes; no
 * other code sees the wire shape.
 */
export type RowBatch = Omit<RawRowBatch, 'shared'>;

/** Encodes a batch, sharing the columns that every row holds with the same text. */
export function encodeRawBatch(b: RowBatch): Buffer {
  const rows = b.rows;
  const width = b.header.length;
  const shared: SharedValue[] = [];
  // One row has nothing to share; a row longer than its header keeps the plain layout, so that no
  // value is ever dropped.
  if (rows.length > 1 && rows.every((r) => r.values.length <= width)) {
    const first = rows[0].values;
    for (let c = 0; c < first.length; c++) {
      const v = first[c];
      let same = true;
      for (let r = 1; r < rows.length; r++) {
        if (rows[r].values[c] !== v) {
          same = false;
          break;
        }
      }
      if (same) shared.push({ column: c, value: v });
    }
  }
  if (shared.length === 0) return AvroTypes.rawRowBatch.toBuffer({ ...b, shared });
  const kept = keptColumns(width, shared);
  const wireRows: RawRow[] = new Array(rows.length);
  for (let r = 0; r < rows.length; r++) {
    const values = rows[r].values;
    // A row shorter than the header keeps only its kept columns below its length (see decode).
    let n = 0;
    while (n < kept.length && kept[n] < values.length) n++;
    const out: string[] = new Array(n);
    for (let i = 0; i < n; i++) out[i] = values[kept[i]];
    wireRows[r] = { line: rows[r].line, values: out };
  }
  return AvroTypes.rawRowBatch.toBuffer({ ...b, shared, rows: wireRows });
}

/** Decodes a raw-topic v2 message, putting the shared columns back into every row. */
export function decodeRawBatch(buffer: Buffer): RowBatch {
  const b = AvroTypes.rawRowBatch.fromBuffer(buffer) as RawRowBatch;
  const { shared, ...batch } = b;
  if (shared.length === 0) return batch;
  const width = b.header.length;
  const kept = keptColumns(width, shared);
  const template: string[] = new Array(width);
  for (const s of shared) template[s.column] = s.value;
  for (const row of batch.rows) {
    const w = row.values;
    // A shared column is defined in every row, so a row that was shorter than the header ended
    // just before its first missing kept column.
    const length = w.length < kept.length ? kept[w.length] : width;
    const values = length === width ? template.slice() : template.slice(0, length);
    for (let i = 0; i < w.length; i++) values[kept[i]] = w[i];
    row.values = values;
  }
  return batch;
}

function keptColumns(width: number, shared: readonly SharedValue[]): number[] {
  const isShared = new Uint8Array(width);
  for (const s of shared) isShared[s.column] = 1;
  const kept: number[] = [];
  for (let c = 0; c < width; c++) if (isShared[c] === 0) kept.push(c);
  return kept;
}
