import { BILLED_COST, CURRENCY, type PlatformFormat } from './columns';
import { compilePlatformEvents } from './to-focus';
import type { ProviderDefinition } from '../provider';

/**
 * First-party usage: what the platform itself meters for its customers (deployment
 * capacity-hours, API calls, seats), sent as CloudEvents to `POST /v1/events` (ingest/, see
 * docs/first-party-events.md). There is no bucket and no collector: the ingest endpoint is this
 * provider's collector, writing sealed revisions to `<prefix>.raw.platform` and the control topic.
 * From there the rows take the same normalize, dedupe, price, sink and invoice path as a cloud's.
 *
 * Its scopes accumulate (`revisions: 'accumulate'`): a seal adds events to its period, it never
 * replaces the seals before it.
 */
export const platform = {
  name: 'platform',
  article: 'a first-party events',
  formats: {
    'platform-events': {
      billedCostColumns: BILLED_COST['platform-events'],
      currencyColumns: CURRENCY['platform-events'],
      toFocus: compilePlatformEvents,
      // An event states its own period (its time); a late one is not a correction of another.
      infersCorrections: false,
      revisions: 'accumulate',
    },
  },
  focusFormat: 'platform-events',
  detect: (_columns, lower) => (lower.has('ce_id') && lower.has('ce_source') ? 'platform-events' : undefined),
  periodColumns: () => [{ name: 'ce_time' }],
  // Events never rest in files meterflow discovers; `meterflow rate` can still read a dump of raw rows.
  discoverAtRest: async () => [],
  layout: 'none: first-party events arrive through POST /v1/events, not as files',
  ingested: true,
} as const satisfies ProviderDefinition<PlatformFormat>;
