import { Decimal, decimalToString } from '../../schemas/decimal';
import { recordIdOf } from '../../schemas/record-id';
import type { UsageRecord } from '../../schemas';
import { mulberry32 } from './cur';

/**
 * N rated usage records as the price stage emits them (the sink's input), with the cardinalities
 * of the CUR workload: 40 accounts, 25 services, ~1,200 SKUs, 20,000 resources, 6 tags per line,
 * 3 customers. Seeded: the same N gives the same records.
 */
export function ratedWorkload(rows: number, scope: string, revision: string, seed = 42): UsageRecord[] {
  const random = mulberry32(seed);
  const pick = (n: number) => Math.floor(random() * n);
  const services = Array.from({ length: 25 }, (_, i) => `Service${i}`);
  const out: UsageRecord[] = [];
  for (let i = 0; i < rows; i++) {
    const object = `s3://bench/${scope}/${revision}/part-${Math.floor(i / 100_000)}.csv.gz`;
    const day = String(1 + (i % 28)).padStart(2, '0');
    const billed = new Decimal(pick(1_000_000)).dividedBy(10_000).plus('0.0000000001');
    const account = String(100_000_000_000 + pick(40));
    out.push({
      BillingAccountId: '999988887777',
      BillingAccountName: 'bench payer',
      SubAccountId: account,
      SubAccountName: `account ${account}`,
      ProviderName: 'AWS',
      PublisherName: 'Amazon Web Services, Inc.',
      InvoiceIssuerName: 'Amazon Web Services, Inc.',
      ServiceName: services[pick(25)],
      ServiceCategory: 'Compute',
      SkuId: `SKU${pick(1200)}`,
      SkuPriceId: null,
      RegionId: ['us-east-1', 'eu-west-1', 'ap-southeast-2'][pick(3)],
      RegionName: null,
      AvailabilityZone: null,
      ResourceId: `arn:aws:ec2:us-east-1:${account}:instance/i-${pick(20_000).toString(16).padStart(17, '0')}`,
      ResourceName: null,
      ResourceType: 'instance',
      ChargeCategory: 'Usage',
      ChargeClass: null,
      ChargeDescription: 'USD 0.0960 per On Demand Linux m5.large Instance Hour',
      ChargeFrequency: 'Usage-Based',
      ChargePeriodStart: `2026-10-${day}T00:00:00Z`,
      ChargePeriodEnd: `2026-10-${day}T01:00:00Z`,
      BillingPeriodStart: '2026-10-01T00:00:00Z',
      BillingPeriodEnd: '2026-11-01T00:00:00Z',
      ConsumedQuantity: '1',
      ConsumedUnit: 'Hrs',
      PricingQuantity: '1',
      PricingUnit: 'Hrs',
      ListUnitPrice: '0.096',
      ContractedUnitPrice: null,
      BilledCost: decimalToString(billed),
      EffectiveCost: decimalToString(billed),
      ListCost: null,
      ContractedCost: decimalToString(billed),
      BillingCurrency: 'USD',
      CommitmentDiscountId: null,
      CommitmentDiscountType: null,
      CommitmentDiscountCategory: null,
      CommitmentDiscountStatus: null,
      Tags: {
        customer: ['acme', 'globex', 'initech'][i % 3],
        team: `team-${pick(30)}`,
        env: ['prod', 'staging', 'dev'][pick(3)],
        app: `app-${pick(300)}`,
        'cost-center': `cc-${pick(50)}`,
        owner: `owner-${pick(120)}`,
      },
      BillingAccountType: 'Payer Account',
      SubAccountType: 'Linked Account',
      InvoiceId: null,
      ServiceSubcategory: 'Virtual Machines',
      PricingCategory: 'Standard',
      PricingCurrency: null,
      PricingCurrencyListUnitPrice: null,
      PricingCurrencyContractedUnitPrice: null,
      PricingCurrencyEffectiveCost: null,
      SkuMeter: null,
      SkuPriceDetails: null,
      CommitmentDiscountName: null,
      CommitmentDiscountQuantity: null,
      CommitmentDiscountUnit: null,
      CapacityReservationId: null,
      CapacityReservationStatus: null,
      ServiceProviderName: 'AWS',
      HostProviderName: 'AWS',
      x_RecordId: recordIdOf(scope, revision, object, i + 2),
      x_Scope: scope,
      x_Revision: revision,
      x_BillingPeriod: '2026-10',
      x_SourceFormat: 'aws-cur-legacy',
      x_SourceObject: object,
      x_SourceLine: i + 2,
      x_CustomerId: ['acme', 'globex', 'initech'][i % 3],
      x_AttributionRule: 'tag:customer',
      x_RatedCost: decimalToString(billed.times('1.1')),
      x_RatedCurrency: 'USD',
      x_PriceRuleId: 'default-markup',
      x_PriceBookVersion: 'bench-1',
      x_ExchangeRate: null,
    });
  }
  return out;
}
