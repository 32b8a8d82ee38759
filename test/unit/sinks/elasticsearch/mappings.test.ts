import { toUsageDocument, usageMappings } from '../../../../sinks/elasticsearch/indices';
import { usageRecord } from '../../../support/usage-record';

describe('usage document mapping', () => {
  it('maps every field of a usage document, so the strict mapping refuses none', () => {
    // Every field the current schema has, each set (a null would hide an unmapped one).
    const record = usageRecord({
      InvoiceId: 'INV-1',
      SkuMeter: 'BoxUsage:m5.large',
      CapacityReservationId: 'cr-1',
      CapacityReservationStatus: 'Used',
      CommitmentDiscountQuantity: '3',
      PricingCurrencyEffectiveCost: '1.5',
      x_RatedCost: '12',
      x_RatedCurrency: 'USD',
    });
    const mapped = new Set(Object.keys(usageMappings().properties));
    const unmapped = Object.keys(toUsageDocument(record)).filter((f) => !mapped.has(f));
    expect(unmapped).toEqual([]);
  });
});
