import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';

/**
 * A realistic legacy-CUR-like export of N rows: the 131 columns of the public koku sample header
 * plus 20 resource-tag columns (151 in all), with cardinalities of a mid-size AWS estate:
 * 40 usage accounts, 25 services, ~1,200 usage types, 20,000 resources, 12 tag keys with 5-300
 * values each. A seeded PRNG makes runs repeatable.
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const HEADER_FILE = path.join(__dirname, '../../test/fixtures/aws/legacy-cur/koku_test_cur.csv');
const SERVICES = [
  'AmazonEC2',
  'AmazonS3',
  'AmazonRDS',
  'AWSLambda',
  'AmazonCloudWatch',
  'AmazonDynamoDB',
  'AmazonVPC',
  'AWSDataTransfer',
  'AmazonEKS',
  'AmazonECS',
  'AmazonElastiCache',
  'AmazonSNS',
  'AmazonSQS',
  'AmazonRoute53',
  'AWSELB',
  'AmazonKinesis',
  'AmazonRedshift',
  'AmazonES',
  'AWSGlue',
  'AmazonAthena',
  'AWSKMS',
  'AWSSecretsManager',
  'AmazonECR',
  'AWSBackup',
  'AmazonEFS',
];
const REGIONS = ['us-east-1', 'us-west-2', 'eu-west-1', 'eu-central-1', 'ap-southeast-1', 'ap-northeast-1'];
const TAG_KEYS: Array<[string, number]> = [
  ['customer', 300],
  ['env', 5],
  ['team', 40],
  ['app', 120],
  ['cost-center', 60],
  ['owner', 200],
  ['project', 150],
  ['tier', 4],
  ['region-group', 6],
  ['component', 80],
  ['version', 30],
  ['managed-by', 5],
];

export function curHeader(): string[] {
  const fixtureHeader = fs
    .readFileSync(HEADER_FILE, 'utf8')
    .split('\n')[0]
    .replace(/^\uFEFF/, '')
    .split(',');
  const tags = TAG_KEYS.map(([k]) => `resourceTags/user:${k}`);
  const extra = Array.from(
    { length: 151 - fixtureHeader.length - tags.length },
    (_, i) => `costCategory/category${i}`,
  );
  return [...fixtureHeader, ...tags, ...extra];
}

/**
 * `detail` also fills the descriptive columns a real CUR line carries (description, product name,
 * location, product family, SKU, operation, pricing term and unit, blended and public on-demand
 * figures), which brings a row from ~470 to ~800 bytes, about the public koku sample's 760. It draws
 * from a PRNG of its own, so the default rows are the same with or without it.
 */
export interface CurRowOptions {
  detail?: boolean;
  /** Set by writeCurCsvGz: the uncompressed CSV size written. */
  csvBytes?: number;
}

const PRODUCT_FAMILIES = ['Compute Instance', 'Storage', 'Data Transfer', 'Database Instance', 'API Request'];
const LOCATIONS: Record<string, string> = {
  'us-east-1': 'US East (N. Virginia)',
  'us-west-2': 'US West (Oregon)',
  'eu-west-1': 'EU (Ireland)',
  'eu-central-1': 'EU (Frankfurt)',
  'ap-southeast-1': 'Asia Pacific (Singapore)',
  'ap-northeast-1': 'Asia Pacific (Tokyo)',
};

export function* curRows(n: number, seed = 42, opts: CurRowOptions = {}): Generator<string> {
  const rnd = mulberry32(seed);
  const detailRnd = mulberry32(seed ^ 0x5eed);
  const header = curHeader();
  const pick = <T>(xs: T[]) => xs[Math.floor(rnd() * xs.length)];
  const idx = (name: string) => header.indexOf(name);
  const col = {
    id: idx('identity/LineItemId'),
    account: idx('lineItem/UsageAccountId'),
    type: idx('lineItem/LineItemType'),
    start: idx('lineItem/UsageStartDate'),
    end: idx('lineItem/UsageEndDate'),
    product: idx('lineItem/ProductCode'),
    usageType: idx('lineItem/UsageType'),
    amount: idx('lineItem/UsageAmount'),
    currency: idx('lineItem/CurrencyCode'),
    rate: idx('lineItem/UnblendedRate'),
    cost: idx('lineItem/UnblendedCost'),
    resource: idx('lineItem/ResourceId'),
    region: idx('product/region'),
    bpStart: idx('bill/BillingPeriodStartDate'),
    bpEnd: idx('bill/BillingPeriodEndDate'),
    payer: idx('bill/PayerAccountId'),
  };
  for (let i = 0; i < n; i++) {
    const row: string[] = new Array(header.length).fill('');
    const service = SERVICES[Math.floor(Math.pow(rnd(), 2) * SERVICES.length)]; // skewed: EC2 and S3 dominate
    const hour = i % 720;
    const day = String(1 + Math.floor(hour / 24)).padStart(2, '0');
    const h = String(hour % 24).padStart(2, '0');
    const amount = (rnd() * 10).toFixed(8);
    const rate = (rnd() * 0.5).toFixed(10);
    row[col.id] = `li-${seed}-${i}`;
    row[col.account] = String(100000000000 + Math.floor(rnd() * 40));
    row[col.payer] = '999999999999';
    row[col.type] = rnd() < 0.02 ? 'Tax' : rnd() < 0.01 ? 'Credit' : 'Usage';
    row[col.start] = `2026-11-${day} ${h}:00:00`;
    row[col.end] = `2026-11-${day} ${h}:59:59`;
    row[col.bpStart] = '2026-11-01T00:00:00Z';
    row[col.bpEnd] = '2026-12-01T00:00:00Z';
    row[col.product] = service;
    row[col.usageType] =
      `${pick(REGIONS).slice(0, 4).toUpperCase()}-${service}-Usage${Math.floor(rnd() * 48)}`;
    row[col.amount] = amount;
    row[col.currency] = 'USD';
    row[col.rate] = rate;
    row[col.cost] =
      row[col.type] === 'Credit'
        ? `-${(rnd() * 3).toFixed(10)}`
        : (Number(amount) * Number(rate)).toFixed(10);
    row[col.resource] = `arn:aws:${service.toLowerCase()}:${pick(REGIONS)}:res-${Math.floor(rnd() * 20000)}`;
    if (col.region >= 0) row[col.region] = pick(REGIONS);
    TAG_KEYS.forEach(([k, card], t) => {
      if (rnd() < 0.8) row[header.indexOf(`resourceTags/user:${k}`)] = `${k}-${Math.floor(rnd() * card)}`;
      void t;
    });
    if (opts.detail) fillDetail(row, header, col, detailRnd, `2026-11-${day}T${h}:00:00Z`);
    yield row.join(',');
  }
}

function fillDetail(
  row: string[],
  header: string[],
  col: { product: number; usageType: number; rate: number; cost: number; region: number },
  rnd: () => number,
  hourStart: string,
): void {
  const set = (name: string, value: string) => {
    const i = header.indexOf(name);
    if (i >= 0) row[i] = value;
  };
  const region = col.region >= 0 && row[col.region] !== '' ? row[col.region] : 'us-east-1';
  const location = LOCATIONS[region] ?? region;
  const family = PRODUCT_FAMILIES[Math.floor(rnd() * PRODUCT_FAMILIES.length)];
  const operation = `RunInstances:${String(Math.floor(rnd() * 400)).padStart(4, '0')}`;
  const sku = Math.floor(rnd() * 36 ** 8)
    .toString(36)
    .toUpperCase()
    .padStart(12, 'Q');
  set('identity/TimeInterval', `${hourStart}/${hourStart.replace(':00:00Z', ':59:59Z')}`);
  set('bill/BillingEntity', 'AWS');
  set('bill/BillType', 'Anniversary');
  set('lineItem/Operation', operation);
  set('lineItem/BlendedRate', row[col.rate]);
  set('lineItem/BlendedCost', row[col.cost]);
  set(
    'lineItem/LineItemDescription',
    `$${row[col.rate]} per ${family} usage of ${row[col.product]} in ${location} (${row[col.usageType]})`,
  );
  set('product/ProductName', `Amazon ${row[col.product].replace(/^(Amazon|AWS)/, '')} Service`);
  set('product/location', location);
  set('product/locationType', 'AWS Region');
  set('product/productFamily', family);
  set('product/servicecode', row[col.product]);
  set('product/sku', sku);
  set('product/usagetype', row[col.usageType]);
  set('product/operation', operation);
  set('pricing/publicOnDemandCost', row[col.cost]);
  set('pricing/publicOnDemandRate', row[col.rate]);
  set('pricing/term', 'OnDemand');
  set('pricing/unit', family === 'Storage' ? 'GB-Mo' : family === 'Data Transfer' ? 'GB' : 'Hrs');
}

/** Writes the gzip CSV to a file and returns its size in bytes. */
export async function writeCurCsvGz(
  file: string,
  n: number,
  seed = 42,
  opts: CurRowOptions = {},
): Promise<number> {
  const header = curHeader().join(',');
  let csvBytes = header.length + 1;
  async function* lines() {
    yield `${header}\n`;
    let buf: string[] = [];
    for (const row of curRows(n, seed, opts)) {
      csvBytes += row.length + 1;
      buf.push(row);
      if (buf.length === 1000) {
        yield `${buf.join('\n')}\n`;
        buf = [];
      }
    }
    if (buf.length) yield `${buf.join('\n')}\n`;
  }
  await pipeline(Readable.from(lines()), zlib.createGzip({ level: 6 }), fs.createWriteStream(file));
  opts.csvBytes = csvBytes;
  return fs.statSync(file).size;
}
