import zlib from 'node:zlib';
import { parse } from 'csv-parse/sync';
import { Registry } from 'prom-client';
import { Decimal, decimalToString } from '../../schemas/decimal';
import { createElasticsearch } from '../../runtime/elasticsearch';
import { createLogger } from '../../runtime/logger';
import { collectOnce, demoConfig, gcpDemoRows, putGcpRun, runDemo } from '../../deploy/demo/demo';
import { indexNames, type RevisionDocument } from '../../sinks/elasticsearch/indices';
import { exactSum } from './sinks/sink-fixture';
import { readFixture } from '../support/fixtures';
import { eventually, testConfig, uniqueName } from './helpers';

/**
 * The main job end to end on the local stack (what `npm start` runs, under a name of its own):
 * AWS, Azure and GCP exports are collected, processed, priced, indexed and invoiced; then GCP
 * restates its month while everything is running. Per-customer cloud cost in Elasticsearch must
 * equal a computation made here, straight from the source files with a CSV parser and decimal
 * sums, sharing no code with the pipeline.
 */
function add(into: Map<string, Decimal>, customer: string, amount: string): void {
  into.set(customer, (into.get(customer) ?? new Decimal(0)).plus(new Decimal(amount)));
}

/** BilledCost per customer from the files themselves, with the demo's attribution table. */
function independentTotals(accounts: Record<string, string>, gcpLines: string[]): Record<string, string> {
  const by = new Map<string, Decimal>();
  const cur = readFixture(
    'aws/legacy-cur/s3-layout-create-new/koku-local/20180801-20180901/16e57707-f9e3-49be-8be6-b84e684b5194/koku-local-1.csv.gz',
  );
  for (const row of parse(zlib.gunzipSync(cur), { columns: true }) as Record<string, string>[])
    add(by, accounts[row['lineItem/UsageAccountId']] ?? 'unallocated', row['lineItem/UnblendedCost']);
  const azure = readFixture('azure/ea/finops-toolkit_EA_ActualCost_Small.csv');
  for (const row of parse(azure, { columns: true, bom: true }) as Record<string, string>[])
    add(by, accounts[row.SubscriptionId] ?? 'unallocated', row.CostInBillingCurrency || row.Cost);
  for (const line of gcpLines) {
    // Keep the numbers as text: parse the line's cost fields without JSON's binary floats.
    const customer = /"key":"customer","value":"([^"]+)"/.exec(line)![1];
    add(by, customer, /"cost":(-?[\d.]+)/.exec(line)![1]);
    for (const m of line.matchAll(/"amount":(-?[\d.]+),"type"/g)) add(by, customer, m[1]);
  }
  return Object.fromEntries([...by].sort().map(([k, v]) => [k, decimalToString(v)]));
}

describe('the main job, end to end (real Kafka, Elasticsearch and object stores)', () => {
  jest.setTimeout(420_000);

  it('three clouds and a mid-run restatement end in Elasticsearch and invoices with exact totals', async () => {
    const base = testConfig();
    base.api.port = 0;
    const name = uniqueName('e2e');
    const config = demoConfig(base, name);
    const lines: string[] = [];
    const summary = await runDemo(base, (l) => lines.push(l), true, name);
    try {
      // Every scope's revision is published, and ES agrees with a Kafka consumer of the rated topic.
      expect(summary.revisions.map((r) => [r.scope.split('/')[0], r.state, r.row_count]).sort()).toEqual([
        ['aws', 'published', 13380],
        ['azure', 'published', 11],
        ['gcp', 'published', 500],
      ]);
      expect(summary.indexedRows).toBe(13380 + 11 + 500);
      expect(summary.indexedTotals).toEqual(summary.totals);
      expect(summary.invoices.filter((r) => r.error !== null)).toEqual([]);
      const acmeGcp = summary.invoices.find((r) => r.invoice_id === 'acme:2026-11')!.invoice!;
      expect(acmeGcp.status).toBe('draft');
      // An invoice total is the exact sum of its rounded lines.
      const lineSum = acmeGcp.lines.reduce((sum, l) => sum.plus(l.amount), new Decimal(0));
      expect(new Decimal(acmeGcp.total).equals(lineSum)).toBe(true);
      expect(acmeGcp.total).toMatch(/^\d+\.\d{2}$/); // USD: two decimals, rounded once per line
      expect(summary.api!.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);

      const es = createElasticsearch(config);
      const names = indexNames(name);
      const accounts = config.normalize.attribution.accounts;
      const before = await exactSum(es, names.usageAlias, 'BilledCost');
      expect(before.byCustomer).toEqual(independentTotals(accounts, gcpDemoRows(500)));

      // GCP restates November while the pipeline runs: a new run folder with every cost changed.
      const restated = gcpDemoRows(500, true);
      await putGcpRun(config, '20261126T030000Z', restated);
      const logger = createLogger({ level: 'warn', component: 'e2e' });
      expect(await collectOnce(config, 'gcp', () => undefined, { logger, registry: new Registry() })).toBe(1);
      await eventually(async () => {
        const res = await es.search<RevisionDocument>({ index: names.revisions, size: 50 });
        const gcp = res.hits.hits.map((h) => h._source!).filter((r) => r.scope.startsWith('gcp/'));
        const current = gcp.find((r) => r.revision_id === '20261126T030000Z');
        return current?.state === 'published' && gcp.every((r) => r === current || r.state === 'superseded')
          ? true
          : undefined;
      }, 180_000);
      const after = await exactSum(es, names.usageAlias, 'BilledCost');
      expect(after.count).toBe(13380 + 11 + 500);
      expect(after.byCustomer).toEqual(independentTotals(accounts, restated));
      expect(after.byCustomer).not.toEqual(before.byCustomer);
    } finally {
      await summary.stop();
    }
  });
});
