import fs from 'node:fs';
import { Client, type ClientOptions, type estypes } from '@elastic/elasticsearch';
import type { MeterflowConfig } from './config';

/**
 * Whether Elasticsearch can serve: it answers, and the cluster is not red. Asked through cluster
 * health (the `monitor` privilege every component's role holds), not `ping()`: the `HEAD /` that
 * ping sends is served by the rest-root module, which not every distribution ships. The local
 * stack's does not, and there a ping-based /readyz never turned ready.
 */
export async function elasticsearchReady(es: Client): Promise<boolean> {
  const health = await es.cluster.health({}, { requestTimeout: 5_000 });
  return health.status !== 'red';
}

export function createElasticsearch(config: MeterflowConfig): Client {
  const es = config.elasticsearch;
  if (!es.node) throw new Error('elasticsearch.node is not set');
  const options: ClientOptions = {
    node: es.node,
    requestTimeout: es.request_timeout_ms,
    // Retries are ours (runtime/retry.ts and the sink's item-level retry), not the transport's.
    maxRetries: 0,
  };
  if (es.api_key) options.auth = { apiKey: es.api_key };
  else if (es.username && es.password) options.auth = { username: es.username, password: es.password };
  if (es.node.startsWith('https:')) {
    options.tls = {
      rejectUnauthorized: es.tls.reject_unauthorized,
      ca: es.tls.ca_file ? fs.readFileSync(es.tls.ca_file, 'utf8') : undefined,
      cert: es.tls.cert_file ? fs.readFileSync(es.tls.cert_file, 'utf8') : undefined,
      key: es.tls.key_file ? fs.readFileSync(es.tls.key_file, 'utf8') : undefined,
    };
  }
  return new Client(options);
}

/**
 * Every document matching `query`, page by page, from ONE point in time. Readers of the published
 * alias rely on it: the revision publisher swaps the alias filter while a reader pages, and a PIT
 * keeps every page on the snapshot (and alias filter) the first page saw, so a sum never mixes the
 * old and the new revision of a scope. search_after on _shard_doc is the cheapest total order a
 * PIT offers. A missing index or alias yields nothing.
 */
export async function* scanAll<T>(
  es: Client,
  index: string,
  query: estypes.QueryDslQueryContainer,
  source: string[] | boolean,
  options: { pageSize?: number; requestTimeoutMs?: number; signal?: AbortSignal } = {},
): AsyncGenerator<Array<estypes.SearchHit<T>>> {
  const pageSize = options.pageSize ?? 5000;
  const transport = {
    ...(options.requestTimeoutMs ? { requestTimeout: options.requestTimeoutMs } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  };
  const pit = await es.openPointInTime(
    { index, keep_alive: '1m', ignore_unavailable: true, allow_partial_search_results: false },
    transport,
  );
  try {
    let after: estypes.SortResults | undefined;
    for (;;) {
      const page = await es.search<T>(
        {
          pit: { id: pit.id, keep_alive: '1m' },
          size: pageSize,
          query,
          _source: source,
          sort: [{ _shard_doc: 'asc' }],
          track_total_hits: false,
          allow_partial_search_results: false,
          ...(after ? { search_after: after } : {}),
        },
        transport,
      );
      const hits = page.hits.hits;
      if (hits.length > 0) yield hits;
      if (hits.length < pageSize) return;
      after = hits[hits.length - 1].sort;
    }
  } finally {
    await es.closePointInTime({ id: pit.id }).catch(() => undefined);
  }
}
