import { draft, finalize, lineOf, rec } from './fixtures';
import type { UsageInput } from '../../../invoices';

/**
 * January is invoiced and finalized from revision r1; then January is restated (r2) and later
 * again (r3). Adjustments must land on the next invoice, linked to January's, exactly once.
 */
describe('adjustments after a restatement of a finalized period', () => {
  const C = 'hooli'; // no plans: amounts are the usage
  const janR1: UsageInput[] = [rec({ ServiceName: 'AmazonS3', x_RatedCost: '10', x_Revision: 'r1' })];
  const janR2: UsageInput[] = [
    rec({ ServiceName: 'AmazonS3', x_RatedCost: '12.345', x_Revision: 'r2' }), // -> 12.34 (tie, 4 even)
    rec({ ServiceName: 'AmazonEC2', x_RatedCost: '3.5', x_Revision: 'r2' }), // new late line
  ];
  const feb: UsageInput[] = [rec({ ServiceName: 'AmazonS3', x_RatedCost: '5' })];
  const janInvoice = finalize(draft({ customer: C, period: '2026-01', usage: janR1 }), 'MF-2026-000001');

  it('puts the difference on the next invoice, linked to the finalized line, and is idempotent', () => {
    const febDraft = draft({
      customer: C,
      period: '2026-02',
      usage: feb,
      invoices: [janInvoice],
      restated: { '2026-01': janR2 },
    });
    // AmazonS3: now 12.34, billed 10.00 -> +2.34
    const s3 = lineOf(febDraft, 'adjustment:2026-01:usage:AmazonS3');
    expect(s3).toMatchObject({
      kind: 'adjustment',
      amount: '2.34',
      adjusts: {
        invoice_id: 'hooli:2026-01',
        invoice_number: 'MF-2026-000001',
        period: '2026-01',
        line_id: 'usage:AmazonS3',
        billed_amount: '10.00',
        current_amount: '12.34',
      },
    });
    expect(s3.adjusts!.cause).toContain('aws:cur@r1');
    expect(s3.adjusts!.cause).toContain('aws:cur@r2');
    // AmazonEC2 was not billed at all: +3.50
    expect(lineOf(febDraft, 'adjustment:2026-01:usage:AmazonEC2').adjusts).toMatchObject({
      billed_amount: '0.00',
      current_amount: '3.50',
    });
    // 5.00 + 2.34 + 3.50
    expect(febDraft.total).toBe('10.84');
    // cloud cost of the adjustment is the cloud cost that changed: 12.345 - 10 = 2.345
    expect(lineOf(febDraft, 'adjustment:2026-01:usage:AmazonS3').cloud_cost).toEqual([
      { currency: 'EUR', amount: '2.345' },
    ]);
    expect(febDraft.basis_finalized).toEqual(['hooli:2026-01#MF-2026-000001']);

    // Regenerating (later, same inputs) yields the same invoice content.
    const again = draft({
      customer: C,
      period: '2026-02',
      usage: feb,
      invoices: [janInvoice, febDraft],
      restated: { '2026-01': janR2 },
      now: '2026-06-01T00:00:00.000Z',
    });
    expect(again.fingerprint).toBe(febDraft.fingerprint);
    expect(again.lines).toEqual(febDraft.lines);

    // Once February (carrying the adjustments) is finalized, March has nothing to adjust.
    const febInvoice = finalize(febDraft, 'MF-2026-000002');
    const mar = draft({
      customer: C,
      period: '2026-03',
      usage: [rec({ x_RatedCost: '1' })],
      invoices: [janInvoice, febInvoice],
      restated: { '2026-01': janR2, '2026-02': feb },
    });
    expect(mar.lines.map((l) => l.kind)).toEqual(['usage']);
    expect(mar.total).toBe('1.00');

    // A further restatement r3: S3 now 13, EC2 gone. Billed so far: S3 10.00 + 2.34, EC2 0 + 3.50.
    const janR3 = [rec({ ServiceName: 'AmazonS3', x_RatedCost: '13', x_Revision: 'r3' })];
    const mar2 = draft({
      customer: C,
      period: '2026-03',
      usage: [rec({ x_RatedCost: '1' })],
      invoices: [janInvoice, febInvoice],
      restated: { '2026-01': janR3, '2026-02': feb },
    });
    // S3: 13.00 - (10.00 + 2.34) = 0.66; EC2: 0 - (0 + 3.50) = -3.50
    expect(lineOf(mar2, 'adjustment:2026-01:usage:AmazonS3').amount).toBe('0.66');
    expect(lineOf(mar2, 'adjustment:2026-01:usage:AmazonS3').adjusts).toMatchObject({
      billed_amount: '12.34',
      current_amount: '13.00',
    });
    expect(lineOf(mar2, 'adjustment:2026-01:usage:AmazonEC2').amount).toBe('-3.50');
    // 1.00 + 0.66 - 3.50
    expect(mar2.total).toBe('-1.84');
  });

  it('produces no adjustment when the recomputed amounts are unchanged', () => {
    const febDraft = draft({
      customer: C,
      period: '2026-02',
      usage: feb,
      invoices: [janInvoice],
      restated: { '2026-01': [rec({ ServiceName: 'AmazonS3', x_RatedCost: '10.004', x_Revision: 'r2' })] },
    });
    // 10.004 rounds to 10.00 = billed: zero difference, no line
    expect(febDraft.lines.map((l) => l.line_id)).toEqual(['usage:AmazonS3']);
  });

  it('leaves the adjustment to a draft of an earlier period that sits in between', () => {
    const febDraft = draft({
      customer: C,
      period: '2026-02',
      usage: feb,
      invoices: [janInvoice],
      restated: { '2026-01': janR2 },
    });
    const mar = draft({
      customer: C,
      period: '2026-03',
      usage: [rec({ x_RatedCost: '1' })],
      invoices: [janInvoice, febDraft],
      restated: { '2026-01': janR2 },
    });
    expect(mar.lines.map((l) => l.kind)).toEqual(['usage']);
  });

  it('adjusts a minimum commitment true-up when late usage raises the counted amount', () => {
    const acmeJan = finalize(
      draft({ customer: 'acme', period: '2026-01', usage: [rec({ x_RatedCost: '4000' })] }),
      'MF-2026-000010',
    );
    // billed: usage 4000.00 + true-up 1000.00 = 5000.00
    expect(acmeJan.total).toBe('5000.00');
    const febDraft = draft({
      customer: 'acme',
      period: '2026-02',
      usage: [rec({ x_RatedCost: '6000' })],
      invoices: [acmeJan],
      restated: { '2026-01': [rec({ x_RatedCost: '4000' }), rec({ x_RatedCost: '300', x_Revision: 'r2' })] },
    });
    // January now: usage 4300.00, true-up 700.00: +300.00 and -300.00, net 0 for the customer
    expect(lineOf(febDraft, 'adjustment:2026-01:usage:AmazonEC2').amount).toBe('300.00');
    expect(lineOf(febDraft, 'adjustment:2026-01:commitment:acme-commit').amount).toBe('-300.00');
    expect(febDraft.total).toBe('6000.00');
  });

  it('names the price-book version when the restatement is a re-rate (pricebook rerate)', () => {
    // January re-rated with book 2026-02.1: revision r1 re-emitted as r1+rr-2026-02.1, S3 10 -> 11.
    const rerated = [rec({ ServiceName: 'AmazonS3', x_RatedCost: '11', x_Revision: 'r1+rr-2026-02.1' })];
    const febDraft = draft({
      customer: C,
      period: '2026-02',
      usage: feb,
      invoices: [janInvoice],
      restated: { '2026-01': rerated },
    });
    const s3 = lineOf(febDraft, 'adjustment:2026-01:usage:AmazonS3');
    expect(s3.amount).toBe('1.00');
    expect(s3.adjusts!.cause).toBe(
      'usage of 2026-01 changed after invoice MF-2026-000001 was finalized: re-rated with price book version 2026-02.1 (pricebook rerate): billed from revisions aws:cur@r1, now aws:cur@r1+rr-2026-02.1',
    );
    // A plain restatement names no version.
    const plain = draft({
      customer: C,
      period: '2026-02',
      usage: feb,
      invoices: [janInvoice],
      restated: { '2026-01': janR2 },
    });
    expect(lineOf(plain, 'adjustment:2026-01:usage:AmazonS3').adjusts!.cause).not.toContain(
      'price book version',
    );
  });
});
