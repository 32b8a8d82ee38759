import type { Registry } from 'prom-client';
import { gauge } from '../../runtime/metrics';
import type { RevisionDocument } from './indices';

/**
 * The newest publication per provider (unix seconds), from the revision documents' `published_at`
 * (a revision once published and later superseded still counts: its data was current then). Read
 * from Elasticsearch on every pass, so a restarted sink reports the true age at once, not "never".
 */
export function lastPublishedByProvider(
  revisions: Array<Pick<RevisionDocument, 'provider' | 'published_at'>>,
): Map<string, number> {
  const out = new Map<string, number>();
  for (const r of revisions) {
    if (!r.published_at) continue;
    const at = Date.parse(r.published_at) / 1000;
    if (Number.isNaN(at)) continue;
    if (at > (out.get(r.provider) ?? -Infinity)) out.set(r.provider, at);
  }
  return out;
}

/** `meterflow_last_published_revision_timestamp_seconds{provider}`, set by the publisher each pass. */
export function publicationFreshness(
  registry: Registry,
): (revisions: Array<Pick<RevisionDocument, 'provider' | 'published_at'>>) => void {
  const last = gauge(
    registry,
    'meterflow_last_published_revision_timestamp_seconds',
    'Unix time the newest revision of the provider was published (made visible to readers)',
    ['provider'],
  );
  return (revisions) => {
    for (const [provider, at] of lastPublishedByProvider(revisions)) last.set({ provider }, at);
  };
}

/** `meterflow_sink_last_indexed_timestamp_seconds`: when the sink last indexed a usage record (0: not since it started). */
export function indexingFreshness(registry: Registry, now: () => number = Date.now): () => void {
  const last = gauge(
    registry,
    'meterflow_sink_last_indexed_timestamp_seconds',
    'Unix time the sink last indexed a usage record (0: none since the process started)',
  );
  return () => last.set(now() / 1000);
}
