import { finalizeAudit } from '../../../invoices/service';
import type { InvoiceResult } from '../../../invoices/result';
import { auditEvent } from '../../../runtime/audit';
import { AvroTypes } from '../../../schemas';

const result = (outcome: InvoiceResult['outcome'], number: string | null, currency: string, total: string) =>
  ({
    invoice_id: `c:${number}`,
    customer: 'c',
    period: '2026-10',
    outcome,
    invoice: outcome === 'not_found' ? null : { number, currency, total },
    error: null,
  }) as unknown as InvoiceResult;

describe('audit events', () => {
  it('fit schemas/audit-event.avsc, with every effect value as text', () => {
    const e = auditEvent(
      'dead_letters.replayed',
      'reason unpriced',
      { replayed: 12, skipped: 0 },
      'ops@host',
    );
    expect(AvroTypes.auditEvent.isValid(e)).toBe(true);
    expect(e.effect).toEqual({ replayed: '12', skipped: '0' });
    expect(e.actor).toBe('ops@host');
  });

  it('a finalization states the invoices made final, their numbers and exact totals per currency', () => {
    const e = finalizeAudit(
      '2026-10',
      [
        result('written', 'INV-2026-0001', 'USD', '100.10'),
        result('written', 'INV-2026-0002', 'USD', '0.20'),
        result('written', 'INV-2026-0003', 'EUR', '5'),
        result('already_finalized', 'INV-2026-0000', 'USD', '999'),
        result('stale', null, 'USD', '1'),
        result('not_found', null, 'USD', '0'),
      ],
      'invoice schedule',
    );
    expect(e).toMatchObject({
      action: 'invoice.finalized',
      target: '2026-10',
      actor: 'invoice schedule',
      effect: {
        finalized: '3',
        refused: '2',
        numbers: 'INV-2026-0001 INV-2026-0002 INV-2026-0003',
        'total USD': '100.3',
        'total EUR': '5',
      },
    });
  });
});
