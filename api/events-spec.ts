/**
 * POST /v1/events (api/routes/events.ts, ingest/): its body and answer, inlined (closed schemas, like every
 * answer of the document).
 */
const count = { type: 'integer', minimum: 0 };
const outcome = {
  type: 'object',
  additionalProperties: false,
  required: ['index', 'status'],
  properties: {
    index: { ...count, description: 'Position of the event in the request (0 for a single event).' },
    status: { type: 'string', enum: ['accepted', 'duplicate', 'rejected'] },
    period: { type: 'string', description: 'Billing period (YYYY-MM) the event lands in.' },
    lateness: {
      type: 'string',
      enum: ['on_time', 'late', 'adjustment'],
      description:
        'accepted: late = after its period, inside events.late_window_hours (its own invoice); adjustment = later ' +
        '(billed as an adjustment line once its period is finalized).',
    },
    field: {
      type: 'string',
      description: 'rejected: the field at fault (data.quantity, time, source, ...).',
    },
    reason: { type: 'string', description: 'rejected: why.' },
  },
};

export const ingestResultSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['accepted', 'duplicates', 'rejected', 'results'],
  properties: {
    accepted: { ...count, description: 'Events written to Kafka by this request.' },
    duplicates: {
      ...count,
      description: 'Events whose source + id was already accepted (not written again).',
    },
    rejected: { ...count, description: 'Events refused; see results.' },
    results: { type: 'array', items: outcome },
  },
};

/** One CloudEvent (application/cloudevents+json) or a batch of them (application/cloudevents-batch+json). */
export const eventsBody = {
  description:
    'A CloudEvents 1.0 event in JSON format, or a JSON array of them (batch format). See docs/first-party-events.md.',
  oneOf: [{ type: 'object' }, { type: 'array', items: {} }],
};

/** Media types POST /v1/events reads as JSON. */
export const EVENT_MEDIA_TYPES = ['application/cloudevents+json', 'application/cloudevents-batch+json'];
