import { MAX_ROW_CHARS, RowAdmission } from '../../../collectors/core/raw-batches';
import { compileControlColumns } from '../../../collectors/formats/columns';
import { MALFORMED_TEXT_LIMIT } from '../../../collectors/formats/rows';

describe('RowAdmission', () => {
  const header = ['lineItem/UnblendedCost', 'lineItem/CurrencyCode', 'lineItem/LineItemDescription'];
  const admission = new RowAdmission((h) => compileControlColumns('aws-cur-legacy', h), header[0]);

  it('admits a row with its exact billed cost and currency', () => {
    const r = admission.admit({ kind: 'row', line: 2, header, values: ['1.25', 'USD', 'x'] });
    expect(r).toMatchObject({ kind: 'row', currency: 'USD' });
    expect(r.kind === 'row' ? r.cost?.toFixed() : undefined).toBe('1.25');
  });

  it('dead-letters a row too wide for a raw-topic message on its own, clipped, instead of failing its batch', () => {
    const wide = 'd'.repeat(MAX_ROW_CHARS + 1);
    const r = admission.admit({ kind: 'row', line: 7, header, values: ['1', 'USD', wide] });
    expect(r).toMatchObject({ kind: 'malformed', line: 7 });
    expect(r.kind === 'malformed' ? r.message : '').toContain('larger than a raw-topic message can carry');
    expect(r.kind === 'malformed' ? r.text!.length : Infinity).toBeLessThanOrEqual(MALFORMED_TEXT_LIMIT + 3);
  });
});
