import { z } from 'zod';
import { intBetween } from '../runtime/config-schema';

/** Integers also accept text: METERFLOW_API__PORT=9000 arrives as a string (env overrides). */
const int = intBetween;

/**
 * The `events:` section: first-party usage events sent to `POST /v1/events` (ingest/, see
 * docs/first-party-events.md). Which keys may send which sources and customers, and how fast, is
 * said on each API key (`api.keys[].role: ingest`).
 */
export const EventsConfigSchema = z
  .object({
    enabled: z
      .boolean()
      .default(false)
      .describe('Serve POST /v1/events in `meterflow api` (writes to Kafka). Off: the route answers 503.'),
    instance_id: z
      .string()
      .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'lower-case letters, digits and dashes')
      .default('ingest-0')
      .describe(
        'Names this ingest instance: its Kafka transactional id and its scopes (platform/<instance_id>/<YYYY-MM>). ' +
          'Give every API replica that ingests its own, stable id (a StatefulSet ordinal); two live processes with ' +
          'one id fence each other.',
      ),
    provider_name: z
      .string()
      .min(1)
      .default('Platform')
      .describe('ProviderName, PublisherName and InvoiceIssuerName of first-party usage rows.'),
    currency: z
      .string()
      .regex(/^[A-Z]{3}$/)
      .default('USD')
      .describe(
        'BillingCurrency of first-party usage rows (their BilledCost is 0; the price book prices them).',
      ),
    late_window_hours: int(0)
      .default(96)
      .describe(
        "Hours after a billing period ends during which a late event still belongs to that period's own invoice. " +
          'Later events still land in their period, which is finalized by then, so the invoices bill them as ' +
          'adjustment lines on the next invoice. Keep it below invoice.finalize_after_days x 24.',
      ),
    max_future_seconds: int(0)
      .default(900)
      .describe("An event whose time is further ahead of this server's clock is rejected (field time)."),
    max_batch_events: int(1, 100_000)
      .default(1000)
      .describe('Events one request may carry; a larger batch is refused whole with 413.'),
    seal_interval_ms: int(0)
      .default(60_000)
      .describe(
        "How long a period's revision stays open taking events before it is sealed and can be published: the " +
          'delay before accepted events are visible, and the pace at which revisions accumulate (one per ' +
          'instance and period per interval). 0: seal at every transaction.',
      ),
    seal_max_events: int(1).default(10_000).describe('Events one Kafka transaction holds at most.'),
    seal_linger_ms: int(0, 10_000)
      .default(5)
      .describe(
        'How long a transaction waits for more requests before it commits (requests are answered once it did). ' +
          'Requests that arrive while one commits go into the next, so under load transactions grow by themselves.',
      ),
    dedupe_max_keys: int(1)
      .default(2_000_000)
      .describe(
        'Idempotency keys (CloudEvents source + id) remembered to drop re-sent events; the oldest are forgotten ' +
          'first. About 150 bytes each.',
      ),
  })
  .strict();

export type EventsOptions = z.output<typeof EventsConfigSchema>;

export function parseEventsOptions(input: unknown = {}): EventsOptions {
  return EventsConfigSchema.parse(input ?? {});
}
