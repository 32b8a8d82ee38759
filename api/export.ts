import fs from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import type { MeterflowConfig } from '../runtime/config';
import { createElasticsearch, scanAll } from '../runtime/elasticsearch';
import { ErrorCodes, PermanentError } from '../runtime/errors';
import { trackTemp, untrackTemp } from '../runtime/temp-files';
import type { UsageRecord } from '../schemas';
import { isPeriod } from '../invoices/period';
import { indexNames } from '../sinks/elasticsearch/indices';
import { writeRatedAs, type OutputFormat } from '../processors/offline/formats';
import { USAGE_RECORD_FIELDS, usageRecordLine } from '../processors/offline/output';
import { Totals } from '../processors/offline/summary';

/**
 * `meterflow export`: a billing period's published usage, as readers of the `<prefix>-usage`
 * alias see it (the current revision of every scope, nothing superseded, nothing unreconciled),
 * to the same files `meterflow rate` writes: NDJSON, CSV or typed Parquet. One point in time for
 * every page, so a publication during the export cannot mix two revisions of a scope.
 */
export interface ExportOptions {
  /** Billing period, YYYY-MM. */
  period: string;
  /** Only this customer's usage (x_CustomerId). */
  customer?: string;
  format: OutputFormat;
  out: string;
}

export interface ExportSummary {
  rows: number;
  /** Exact BilledCost per currency of the exported rows. */
  billed_cost: Record<string, string>;
  /** Exact x_RatedCost per currency. */
  rated_cost: Record<string, string>;
}

export async function exportPublishedUsage(
  config: MeterflowConfig,
  o: ExportOptions,
): Promise<ExportSummary> {
  if (!isPeriod(o.period))
    throw new PermanentError(ErrorCodes.CONFIG_INVALID, `--period ${o.period}: expected YYYY-MM`);
  const es = createElasticsearch(config);
  const names = indexNames(config.elasticsearch.index_prefix);
  const ndjson =
    o.format === 'ndjson' ? `${o.out}.partial-${process.pid}` : `${o.out}.export-${process.pid}.ndjson`;
  trackTemp(ndjson);
  const billed = new Totals();
  const rated = new Totals();
  let rows = 0;
  try {
    const stream = fs.createWriteStream(ndjson);
    const write = (text: string) =>
      stream.write(text) ? Promise.resolve() : new Promise<void>((r) => stream.once('drain', () => r()));
    const query = {
      bool: {
        filter: [
          { term: { x_BillingPeriod: o.period } },
          ...(o.customer === undefined ? [] : [{ term: { x_CustomerId: o.customer } }]),
        ],
      },
    };
    for await (const hits of scanAll<UsageRecord>(es, names.usageAlias, query, [...USAGE_RECORD_FIELDS])) {
      let chunk = '';
      for (const h of hits) {
        const r = h._source!;
        chunk += usageRecordLine(r);
        billed.addText(r.BillingCurrency, r.BilledCost);
        if (r.x_RatedCost !== null && r.x_RatedCurrency !== null)
          rated.addText(r.x_RatedCurrency, r.x_RatedCost);
        rows++;
      }
      await write(chunk);
    }
    await new Promise<void>((resolve, reject) =>
      stream.end((err?: Error | null) => (err ? reject(err) : resolve())),
    );
    if (o.format === 'ndjson') await rename(ndjson, o.out);
    else await writeRatedAs(o.format, ndjson, o.out);
  } finally {
    await rm(ndjson, { force: true });
    untrackTemp(ndjson);
    await es.close();
  }
  return { rows, billed_cost: billed.toRecord(), rated_cost: rated.toRecord() };
}
