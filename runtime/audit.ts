import os from 'node:os';
import { AvroTypes, type AuditEvent } from '../schemas';
import type { MeterflowConfig } from './config';
import { createKafka, ensureTopics, topicNames } from './kafka';
import type { Logger } from './logger';

/*
 * Audit events: who did which administrative action, when, and with what effect. meterflow has no
 * logins of its own (the API is read-only), so the actor is the operating-system user and host
 * that ran the command, or the scheduler that acted on its own.
 *
 * Each event is (1) a log line at info carrying an `audit` object, for log pipelines, and (2) a
 * record on the `<prefix>.audit` topic (schemas/audit-event.avsc), a durable history that outlives
 * the logs. Actions that need no server (creating an API key) are logged only.
 */
export type AuditAction =
  | 'invoice.finalized'
  | 'invoice.credit_note'
  | 'invoice.voided'
  | 'pricebook.published'
  | 'pricebook.rerated'
  | 'dead_letters.replayed'
  | 'api.key_created';

/** The user and host of this process: `alice@billing-ops-1`. */
export function commandActor(): string {
  let user = 'unknown';
  try {
    user = os.userInfo().username;
  } catch {
    /* no passwd entry (some containers) */
  }
  return `${user}@${os.hostname()}`;
}

export function auditEvent(
  action: AuditAction,
  target: string,
  effect: Record<string, string | number>,
  actor = commandActor(),
): AuditEvent {
  return {
    at: new Date().toISOString(),
    action,
    actor,
    target,
    effect: Object.fromEntries(Object.entries(effect).map(([k, v]) => [k, String(v)])),
  };
}

/** Logs the event, and writes it to the audit topic when `config` is given. */
export async function recordAudit(
  event: AuditEvent,
  logger: Logger,
  config?: MeterflowConfig,
): Promise<void> {
  logger.info({ audit: event }, `audit: ${event.action} ${event.target} by ${event.actor}`);
  if (!config) return;
  const kafka = createKafka(config, 'audit', logger);
  const topic = topicNames(config).audit;
  await ensureTopics(kafka, config, [{ topic }]);
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  try {
    await producer.send({
      topic,
      messages: [{ key: event.action, value: AvroTypes.auditEvent.toBuffer(event) }],
    });
  } finally {
    await producer.disconnect();
  }
}
