import type { FastifyInstance } from 'fastify';
import { IngestRefused } from '../../ingest/ingestor';
import { ApiError, ApiErrorCodes, badParameter } from '../errors';
import { EVENT_MEDIA_TYPES, eventsBody, ingestResultSchema } from '../events-spec';
import { authenticatedErrors, errors, json, query, ref } from '../openapi';
import type { ApiDependencies } from '../server';
import type { Route } from './route';

/** First-party usage events (ingest keys), written to Kafka before the answer. */
export function registerEventRoutes(api: FastifyInstance, route: Route, deps: ApiDependencies): void {
  // CloudEvents JSON (single and batch) is JSON; fastify parses application/json only by itself.
  api.addContentTypeParser(
    EVENT_MEDIA_TYPES,
    { parseAs: 'string' },
    api.getDefaultJsonParser('error', 'error'),
  );
  route(
    '/v1/events',
    'ingest',
    {
      operationId: 'ingestEvents',
      summary:
        'First-party usage events (ingest key): one CloudEvent (application/cloudevents+json) or a batch ' +
        '(application/cloudevents-batch+json). Each event is judged alone: the valid ones are written to Kafka ' +
        '(committed, acks=all) before the answer, invalid ones are reported by index and field, re-sent ones ' +
        '(same source + id) are counted once. 202 when events were written, 200 when none were new, 400 when ' +
        'every event was rejected.',
      querystring: query(),
      body: eventsBody,
      response: {
        '200': json(ingestResultSchema, 'Nothing new was written (every valid event was a duplicate).'),
        '202': json(ingestResultSchema, 'Events were written to Kafka.'),
        '403': errors.Forbidden,
        '413': json(ref('Error'), "More events than events.max_batch_events or the key's events_burst."),
        '415': json(ref('Error'), 'Not a CloudEvents JSON or JSON body.'),
        ...authenticatedErrors,
        '400': json(
          { oneOf: [ingestResultSchema, ref('Error')] },
          'Every event was rejected (the per-event reasons), or the body is not JSON.',
        ),
      },
    },
    async (req, reply, principal) => {
      if (!deps.events)
        throw new ApiError(503, ApiErrorCodes.UNAVAILABLE, 'event ingest is not enabled (events.enabled)');
      if (principal.role !== 'ingest')
        throw new ApiError(403, ApiErrorCodes.FORBIDDEN, 'needs an ingest key');
      const body = req.body as unknown;
      const batch = (req.headers['content-type'] ?? '').startsWith('application/cloudevents-batch+json');
      if (batch && !Array.isArray(body))
        throw badParameter('application/cloudevents-batch+json needs a JSON array of events');
      const events = Array.isArray(body) ? body : [body];
      try {
        const result = await deps.events.ingest(principal.keyId, principal.grant, events);
        reply.code(
          result.accepted > 0 ? 202 : result.rejected === events.length && events.length > 0 ? 400 : 200,
        );
        return result;
      } catch (err) {
        if (!(err instanceof IngestRefused)) throw err;
        if (err.retryAfterSeconds !== undefined)
          reply.header('retry-after', String(Math.max(1, Math.ceil(err.retryAfterSeconds))));
        const code =
          err.status === 429
            ? ApiErrorCodes.THROTTLED
            : err.status === 503
              ? ApiErrorCodes.UNAVAILABLE
              : ApiErrorCodes.BAD_REQUEST;
        throw new ApiError(err.status, code, err.message);
      }
    },
    { method: 'POST' },
  );
}
