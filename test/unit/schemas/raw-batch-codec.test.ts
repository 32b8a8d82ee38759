import { AvroTypes } from '../../../schemas';
import { decodeRawBatch, encodeRawBatch, type RowBatch } from '../../../schemas/raw-batch-codec';
import type { RawRowBatch } from '../../../schemas/types.generated';

const constants = {
  provider: 'aws',
  format: 'aws-cur-legacy',
  scope: 'aws/b/r/2026-10',
  revision_id: 'r1',
  billing_period: '2026-10',
  object: 's3://b/r/part-1.csv',
};

function batch(header: string[], rows: string[][]): RowBatch {
  return { ...constants, header, rows: rows.map((values, i) => ({ line: i + 2, values })) };
}

describe('raw-topic v2 codec', () => {
  it('writes the columns every row shares once, and gives every row back whole', () => {
    const b = batch(
      ['period', 'cost', 'empty', 'account'],
      [
        ['2026-10', '1.5', '', '111'],
        ['2026-10', '2.25', '', '111'],
        ['2026-10', '0', '', '111'],
      ],
    );
    const wire = AvroTypes.rawRowBatch.fromBuffer(encodeRawBatch(b)) as RawRowBatch;
    expect(wire.shared).toEqual([
      { column: 0, value: '2026-10' },
      { column: 2, value: '' },
      { column: 3, value: '111' },
    ]);
    expect(wire.rows.map((r) => r.values)).toEqual([['1.5'], ['2.25'], ['0']]);
    expect(decodeRawBatch(encodeRawBatch(b))).toEqual(b);
  });

  it('keeps rows shorter than the header exactly as short', () => {
    const b = batch(['a', 'b', 'c', 'd'], [['x', '1', '2', '3'], ['x', '4'], ['x', '5', '6'], ['x']]);
    const decoded = decodeRawBatch(encodeRawBatch(b));
    expect(decoded.rows.map((r) => r.values)).toEqual(b.rows.map((r) => r.values));
  });

  it('keeps the plain layout for one row, for rows longer than the header, and when nothing is shared', () => {
    for (const b of [
      batch(['a', 'b'], [['1', '2']]),
      batch(
        ['a'],
        [
          ['1', 'extra'],
          ['1', 'more'],
        ],
      ),
      batch(
        ['a', 'b'],
        [
          ['1', '2'],
          ['3', '4'],
        ],
      ),
    ]) {
      const wire = AvroTypes.rawRowBatch.fromBuffer(encodeRawBatch(b)) as RawRowBatch;
      expect(wire.shared).toEqual([]);
      expect(decodeRawBatch(encodeRawBatch(b))).toEqual(b);
    }
  });

  it('is smaller on the wire than the same rows unshared', () => {
    const rows = Array.from({ length: 100 }, (_, i) => ['2026-10', String(i), '', '', '', 'USD']);
    const b = batch(['p', 'cost', 'e1', 'e2', 'e3', 'cur'], rows);
    const plain = AvroTypes.rawRowBatch.toBuffer({ ...b, shared: [] }).length;
    expect(encodeRawBatch(b).length).toBeLessThan(plain / 2);
  });
});
