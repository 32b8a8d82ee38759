import { Decimal } from '../../../schemas/decimal';
import { draft, lineOf, rec } from './fixtures';

/**
 * An invoice combining first-party usage (providers/platform: BilledCost 0, priced per unit) with
 * cloud usage attributed to the customer: the margin is the price of both against the cloud cost.
 */
describe('first-party usage on an invoice', () => {
  const platformLine = (rated: string) =>
    rec({
      ProviderName: 'Platform',
      ServiceName: 'Deployments',
      ServiceCategory: 'Compute',
      BilledCost: '0',
      x_RatedCost: rated,
      PricingQuantity: '1',
      PricingUnit: 'Hours',
      x_Scope: 'platform/ingest-0/2026-01',
      x_Revision: 's001767225600000',
      x_SourceObject: 'events://ingest-0/s001767225600000',
    });

  it('adds its price with no cloud cost, so margin = price of both kinds of usage - attributed cloud cost', () => {
    const doc = draft({
      customer: 'hooli',
      period: '2026-01',
      usage: [
        rec({ ServiceName: 'AmazonEC2', BilledCost: '80', x_RatedCost: '92' }),
        platformLine('12.5'),
        platformLine('0.125'), // Deployments = 12.625 -> 12.62 (HALF_EVEN)
      ],
    });
    expect(lineOf(doc, 'usage:Deployments')).toMatchObject({ amount: '12.62', cloud_cost: [] });
    expect(lineOf(doc, 'usage:AmazonEC2')).toMatchObject({ amount: '92.00' });
    expect(doc.total).toBe('104.62');
    expect(doc.cloud_cost).toEqual([{ currency: 'EUR', amount: '80' }]);
    expect(doc.margin).toBe('24.62');
  });

  it('alone: the margin is the whole total', () => {
    const doc = draft({ customer: 'hooli', period: '2026-01', usage: [platformLine('3.5')] });
    expect(doc.total).toBe('3.50');
    // (margin is exact decimal text, not padded to the minor unit)
    expect(new Decimal(doc.margin!).equals(new Decimal(doc.total))).toBe(true);
  });
});
