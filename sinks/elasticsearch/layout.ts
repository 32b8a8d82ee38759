import type { Client } from '@elastic/elasticsearch';
import { deadLetterMappings, type IndexNames, revisionMappings, usageMappings } from './indices';

export interface LayoutOptions {
  /** Replicas of every index (0 on a single node, else the cluster stays yellow). */
  replicas: number;
  /** refresh_interval of the usage indices; the publisher refreshes explicitly before it counts. */
  refreshInterval: string;
}

export const DEFAULT_LAYOUT: LayoutOptions = { replicas: 0, refreshInterval: '1s' };

function isAlreadyExists(err: unknown): boolean {
  const type = (err as { meta?: { body?: { error?: { type?: string } } } }).meta?.body?.error?.type;
  return type === 'resource_already_exists_exception';
}

async function createIfAbsent(es: Client, index: string, body: Record<string, unknown>): Promise<void> {
  if (await es.indices.exists({ index })) return;
  try {
    await es.indices.create({ index, ...body });
  } catch (err) {
    // Another sink instance created it between our check and our create: same definition, fine.
    if (!isAlreadyExists(err)) throw err;
  }
}

/**
 * Installs what the sink, the publisher, invoices and the API rely on, if absent: the usage index
 * template (explicit, strict mappings), the revisions and dead-letter indices. Idempotent; every
 * component calls it at start. An existing template is replaced (mappings only ever gain fields:
 * schemas/compatibility.ts keeps the Avro schemas backward compatible).
 */
export async function ensureLayout(
  es: Client,
  names: IndexNames,
  options: LayoutOptions = DEFAULT_LAYOUT,
): Promise<void> {
  const settings = { number_of_shards: 1, number_of_replicas: options.replicas };
  await es.indices.putIndexTemplate({
    name: names.usageTemplate,
    index_patterns: [names.usagePattern],
    priority: 200,
    template: {
      settings: { ...settings, refresh_interval: options.refreshInterval },
      mappings: usageMappings() as never,
    },
    _meta: { managed_by: 'meterflow', description: 'Rated usage, one index per billing month' },
  });
  // A template shapes an index only when it is created: fields added since (mappings only gain
  // fields) go into the existing monthly indices too, or every open month would refuse documents
  // carrying them (strict mapping) and dead-letter them as mapping errors.
  // Tags is left out: its type is fixed when an index is created (months created before it became
  // `flattened` keep it stored but not indexed; their tags stay searchable through x_TagPairs).
  const { Tags: _fixedAtCreation, ...added } = usageMappings().properties;
  await es.indices.putMapping({
    index: names.usagePattern,
    allow_no_indices: true,
    ignore_unavailable: true,
    properties: added as never,
  });
  await createIfAbsent(es, names.revisions, { settings, mappings: revisionMappings() });
  // The same for fields the revision documents gained (announced).
  await es.indices.putMapping({ index: names.revisions, properties: revisionMappings().properties as never });
  await createIfAbsent(es, names.deadLetters, { settings, mappings: deadLetterMappings() });
}

/**
 * Creates the monthly usage index if absent, with both aliases. The published alias starts with a
 * filter that matches nothing: the index only holds revisions that are not published yet (a
 * revision is published only once all of its documents are indexed, so its index exists by then),
 * and the publisher's next atomic alias update gives it the real filter.
 */
export async function ensureUsageIndex(
  es: Client,
  names: IndexNames,
  billingPeriod: string,
): Promise<string> {
  const index = names.usageIndex(billingPeriod);
  await createIfAbsent(es, index, {
    aliases: {
      [names.usageAllAlias]: {},
      [names.usageAlias]: { filter: { terms: { x_PublishKey: [] } } },
    },
  });
  return index;
}
