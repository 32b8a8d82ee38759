import { invoiceDifferences, invoicesAsOf, regenerationKeys } from '../../../invoices/regenerate';
import { draft, finalize, rec } from './fixtures';

/**
 * The pure parts of `invoice regenerate`: which revisions it reads, which invoices it takes as
 * finalized, and how it names what differs.
 */
describe('invoice regeneration: the revisions read', () => {
  it('takes the recorded revision of a scope over the one visible at the knowledge time', () => {
    const recorded = [{ scope: 'aws:cur:2026-01', revision_id: 'r1' }];
    const visible = [
      { scope: 'aws:cur:2026-01', revision_id: 'r2' }, // published between T and the read
      { scope: 'gcp:billing:2025-12', revision_id: 'g4' }, // a scope the invoice has no line of
    ];
    expect(regenerationKeys(recorded, visible)).toEqual(['aws:cur:2026-01@r1', 'gcp:billing:2025-12@g4']);
  });

  it('reads nothing when nothing was recorded nor visible', () => {
    expect(regenerationKeys([], [])).toEqual([]);
  });
});

describe('invoice regeneration: the other invoices as they were', () => {
  const C = 'hooli';
  const jan = finalize(
    draft({ customer: C, period: '2026-01', usage: [rec({ x_RatedCost: '10' })] }),
    'MF-2026-000001',
  );
  const feb = finalize(
    draft({
      customer: C,
      period: '2026-02',
      usage: [rec({ x_RatedCost: '4' })],
      invoices: [jan],
      restated: { '2026-01': [rec({ x_RatedCost: '10' })] },
    }),
    'MF-2026-000002',
  );
  const dec = finalize(
    draft({ customer: C, period: '2025-12', usage: [rec({ x_RatedCost: '1' })] }),
    'MF-2026-000003',
  );
  const apr = draft({ customer: C, period: '2026-04', usage: [rec({ x_RatedCost: '2' })] });

  it('keeps the basis finalized (also when voided since); an earlier one finalized later was a draft', () => {
    const mar = draft({
      customer: C,
      period: '2026-03',
      usage: [rec({ x_RatedCost: '3' })],
      invoices: [jan, feb],
      restated: { '2026-01': [rec({ x_RatedCost: '10' })], '2026-02': [rec({ x_RatedCost: '4' })] },
    });
    expect(mar.basis_finalized).toEqual(['hooli:2026-01#MF-2026-000001', 'hooli:2026-02#MF-2026-000002']);
    const voidedFeb = { ...feb, status: 'void' as const };
    const asOf = invoicesAsOf(mar, [jan, voidedFeb, dec, apr, { ...mar, status: 'finalized', number: 'X' }]);
    expect(asOf.map((i) => [i.invoice_id, i.status, i.number])).toEqual([
      ['hooli:2026-01', 'finalized', 'MF-2026-000001'],
      ['hooli:2026-02', 'finalized', 'MF-2026-000002'],
      ['hooli:2025-12', 'draft', null],
    ]);
  });
});

describe('invoice regeneration: differences', () => {
  const usage = [
    rec({ ServiceName: 'AmazonS3', x_RatedCost: '10.005', x_Revision: 'r1' }),
    rec({ ServiceName: 'AmazonEC2', x_RatedCost: '1', x_Revision: 'r1' }),
  ];
  const stored = finalize(draft({ customer: 'hooli', period: '2026-01', usage }), 'MF-2026-000001');

  it('finds none between a finalized invoice and the same computation (lifecycle fields aside)', () => {
    const again = draft({ customer: 'hooli', period: '2026-01', usage });
    expect(again.status).toBe('draft');
    expect(invoiceDifferences(stored, again)).toEqual([]);
  });

  it('names the changed fields, the changed line and the fingerprint after a restatement', () => {
    const restated = draft({
      customer: 'hooli',
      period: '2026-01',
      usage: [usage[0], rec({ ServiceName: 'AmazonEC2', x_RatedCost: '2', x_Revision: 'r1' })],
    });
    const diff = invoiceDifferences(stored, restated);
    expect(diff).toContain('total: stored "11.00", regenerated "12.00"');
    expect(diff).toContain('line usage:AmazonEC2 amount: stored "1.00", regenerated "2.00"');
    expect(diff.some((d) => d.startsWith('line usage:AmazonS3'))).toBe(false);
    expect(diff[diff.length - 1]).toBe(
      `fingerprint: stored ${stored.fingerprint}, regenerated ${restated.fingerprint}`,
    );
  });

  it('names a line that is missing on either side', () => {
    const fewer = draft({ customer: 'hooli', period: '2026-01', usage: [usage[0]] });
    expect(invoiceDifferences(stored, fewer)).toContain(
      'line usage:AmazonEC2: stored with amount 1.00, not regenerated',
    );
    expect(invoiceDifferences(fewer, stored)).toContain(
      'line usage:AmazonEC2: not stored, regenerated with amount 1.00',
    );
  });

  it('compares a reissue without its own id and link', () => {
    const reissue = {
      ...stored,
      invoice_id: 'hooli:2026-01:MF-2026-000009',
      number: 'MF-2026-000009',
      replaces: { invoice_id: 'hooli:2026-01', number: 'MF-2026-000001' },
    };
    expect(invoiceDifferences(reissue, draft({ customer: 'hooli', period: '2026-01', usage }))).toEqual([]);
  });
});
