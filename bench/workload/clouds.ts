import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Decimal } from '../../schemas/decimal';
import { mulberry32 } from './cur';

/**
 * Azure and GCP exports of N rows with the cardinalities of a mid-size estate, seeded so that runs
 * repeat: Azure EA ActualCost CSV (the public sample's 57 columns) with 30 subscriptions, 15 meter
 * categories, ~400 meters, 10,000 resources in 200 resource groups and 4 tags per line; GCP billing
 * export JSON lines with 60 projects, 20 services, ~800 SKUs, 5,000 resources and 4 labels.
 */
const AZURE_HEADER_FILE = path.join(
  __dirname,
  '../../test/fixtures/azure/ea/finops-toolkit_EA_ActualCost_Small.csv',
);

const csv = (v: string) => (/[",\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);
const guid = (n: number, salt: string) => {
  const h = (n * 2654435761 + salt.length * 97).toString(16).padStart(8, '0').slice(-8);
  return `${h}-${salt.padEnd(4, '0').slice(0, 4)}-4${h.slice(0, 3)}-8${h.slice(3, 6)}-${h}${h.slice(0, 4)}`;
};

export function* azureRows(n: number, seed = 7): Generator<string> {
  const header = fs
    .readFileSync(AZURE_HEADER_FILE, 'utf8')
    .replace(/^\uFEFF/, '')
    .split('\n')[0]
    .trim();
  yield header;
  const names = header.split(',');
  const rnd = mulberry32(seed);
  const pick = (k: number) => Math.floor(rnd() * k);
  const categories = [
    'Virtual Machines',
    'Storage',
    'Bandwidth',
    'SQL Database',
    'Azure App Service',
    'Functions',
    'Key Vault',
    'Log Analytics',
    'Container Registry',
    'Azure Kubernetes Service',
    'Cosmos DB',
    'Event Hubs',
    'Service Bus',
    'Redis Cache',
    'Load Balancer',
  ];
  for (let i = 0; i < n; i++) {
    const sub = pick(30);
    const meter = pick(400);
    const category = categories[meter % categories.length];
    const rg = `rg-${pick(200)}`;
    const resource = pick(10_000);
    const day = String(1 + (i % 30)).padStart(2, '0');
    const quantity = (pick(100_000) / 1000).toFixed(3);
    const price = (pick(5000) / 10_000 + 0.0001).toFixed(6);
    const cost = new Decimal(quantity).times(price).toFixed(8);
    const values: Record<string, string> = {
      BillingAccountId: '8611537',
      BillingAccountName: 'Bench Enrollment',
      BillingPeriodStartDate: '10/01/2026',
      BillingPeriodEndDate: '10/31/2026',
      BillingProfileId: '8611537',
      BillingProfileName: 'Bench Enrollment',
      AccountOwnerId: 'owner@bench.example',
      AccountName: `Department ${sub % 5}`,
      SubscriptionId: guid(sub, 'subs'),
      SubscriptionName: `subscription-${sub}`,
      Date: `10/${day}/2026`,
      Product: `${category} - meter ${meter}`,
      PartNumber: `PN-${meter}`,
      MeterId: guid(meter, 'metr'),
      ServiceFamily: category === 'Storage' ? 'Storage' : 'Compute',
      MeterCategory: category,
      MeterSubCategory: `sub-${meter % 12}`,
      MeterRegion: ['UK South', 'West Europe', 'East US'][meter % 3],
      MeterName: `meter-${meter}`,
      Quantity: quantity,
      EffectivePrice: price,
      Cost: cost,
      UnitPrice: price,
      BillingCurrency: 'USD',
      ResourceLocation: ['uksouth', 'westeurope', 'eastus'][meter % 3],
      ConsumedService: 'Microsoft.Compute',
      ResourceId: `/subscriptions/${guid(sub, 'subs')}/resourceGroups/${rg}/providers/Microsoft.Compute/virtualMachines/vm-${resource}`,
      ResourceName: `vm-${resource}`,
      Tags: JSON.stringify({
        customer: ['acme', 'globex', 'initech'][i % 3],
        env: ['prod', 'dev'][pick(2)],
        team: `team-${pick(30)}`,
        app: `app-${pick(150)}`,
      }),
      UnitOfMeasure: '1 Hour',
      ResourceGroup: rg,
      OfferId: 'MS-AZR-0017P',
      IsAzureCreditEligible: 'True',
      ChargeType: 'Usage',
      Frequency: 'UsageBased',
      PublisherType: 'Azure',
      PayGPrice: price,
      PricingModel: 'OnDemand',
    };
    yield names.map((h) => csv(values[h] ?? '')).join(',');
  }
}

export function* gcpRows(n: number, seed = 11): Generator<string> {
  const rnd = mulberry32(seed);
  const pick = (k: number) => Math.floor(rnd() * k);
  for (let i = 0; i < n; i++) {
    const service = pick(20);
    const sku = service * 40 + pick(40);
    const day = String(1 + (i % 30)).padStart(2, '0');
    const hour = String(i % 24).padStart(2, '0');
    const cost = `${pick(50)}.${String(pick(1_000_000)).padStart(6, '0')}`;
    const credits =
      i % 5 === 0
        ? `[{"name":"Sustained use","amount":-0.${String(pick(100_000)).padStart(5, '0')},"type":"SUSTAINED_USAGE_DISCOUNT"}]`
        : '[]';
    yield (
      `{"billing_account_id":"012345-ABCDEF-678901","service":{"id":"SVC-${service}","description":"Service ${service}"},` +
      `"sku":{"id":"SKU-${sku}","description":"SKU ${sku}"},"usage_start_time":"2026-10-${day} ${hour}:00:00 UTC",` +
      `"usage_end_time":"2026-10-${day} ${hour}:59:59 UTC","project":{"id":"project-${pick(60)}","name":"Project"},` +
      `"labels":[{"key":"customer","value":"${['acme', 'globex', 'initech'][i % 3]}"},{"key":"env","value":"${['prod', 'dev'][pick(2)]}"},` +
      `{"key":"team","value":"team-${pick(30)}"},{"key":"app","value":"app-${pick(150)}"}],` +
      `"resource":{"name":"instance-${pick(5000)}","global_name":"//compute.googleapis.com/instance-${pick(5000)}"},` +
      `"location":{"region":"${['europe-west1', 'us-central1', 'asia-east1'][service % 3]}"},` +
      `"cost":${cost},"currency":"USD","usage":{"amount":3600,"unit":"seconds","amount_in_pricing_units":1,"pricing_unit":"hour"},` +
      `"credits":${credits},"invoice":{"month":"202610"},"cost_type":"regular"}`
    );
  }
}

export async function writeGzLines(file: string, lines: Iterable<string>): Promise<number> {
  await pipeline(
    Readable.from(
      (function* () {
        for (const l of lines) yield `${l}\n`;
      })(),
    ),
    zlib.createGzip({ level: 6 }),
    fs.createWriteStream(file),
  );
  return fs.statSync(file).size;
}
