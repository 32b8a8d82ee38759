import type { Client } from '@elastic/elasticsearch';
import { ensureInvoiceIndex } from '../../invoices/store';
import type { InvoiceDocument } from '../../invoices/types';
import type { UsageRecord } from '../../schemas';
import {
  type DeadLetterDocument,
  type IndexNames,
  publishKey,
  type RevisionDocument,
  revisionDocId,
  toUsageDocument,
} from '../../sinks/elasticsearch/indices';
import { ensureLayout, ensureUsageIndex } from '../../sinks/elasticsearch/layout';

/**
 * Writes what the sink, the publisher and the invoices would have written, for tests of the readers
 * (the API, the console): usage documents in their monthly indices, revision documents, dead
 * letters and invoices, in one bulk request. Then publishes `published` the way the publisher does:
 * one atomic alias update over every monthly index, whose filter names the published revisions.
 */
export async function seedPublishedUsage(
  es: Client,
  names: IndexNames,
  seed: {
    usage: UsageRecord[];
    revisions: RevisionDocument[];
    deadLetters: DeadLetterDocument[];
    invoices: InvoiceDocument[];
    published: Array<{ scope: string; revisionId: string }>;
  },
): Promise<void> {
  await ensureLayout(es, names);
  const periods = [...new Set(seed.usage.map((r) => r.x_BillingPeriod))].sort();
  const indices: string[] = [];
  for (const period of periods) indices.push(await ensureUsageIndex(es, names, period));
  await ensureInvoiceIndex(es, names);
  const operations = [
    ...seed.usage.flatMap((r) => [
      { index: { _index: names.usageIndex(r.x_BillingPeriod), _id: r.x_RecordId } },
      toUsageDocument(r),
    ]),
    ...seed.revisions.flatMap((r) => [
      { index: { _index: names.revisions, _id: revisionDocId(r.scope, r.revision_id) } },
      r,
    ]),
    ...seed.deadLetters.flatMap((d) => [{ index: { _index: names.deadLetters } }, d]),
    ...seed.invoices.flatMap((i) => [{ index: { _index: names.invoices, _id: i.invoice_id } }, i]),
  ];
  const bulk = await es.bulk({ operations, refresh: true });
  const failed = bulk.items.filter((i) => i.index?.error);
  if (failed.length) throw new Error(`seeding Elasticsearch failed: ${JSON.stringify(failed[0])}`);
  const keys = seed.published.map((p) => publishKey(p.scope, p.revisionId));
  await es.indices.updateAliases({
    actions: indices.map((index) => ({
      add: { index, alias: names.usageAlias, filter: { terms: { x_PublishKey: keys } } },
    })),
  });
}
