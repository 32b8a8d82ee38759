import type { FastifyError, FastifySchema } from 'fastify';
import { ApiError, ApiErrorCodes } from './errors';

/**
 * fastify's validation error (a request that does not fit its route's schema) as the API's own
 * error: unknown_parameter, missing_parameter or invalid_parameter, with a message that names the
 * parameter and what it must be, as api/params.ts words its own checks.
 */
export function validationError(err: FastifyError, schema: FastifySchema | undefined): ApiError {
  const first = err.validation?.[0];
  const context = err.validationContext;
  const where =
    context === 'params' ? 'path parameter' : context === 'body' ? 'body field' : 'query parameter';
  if (!first) return new ApiError(400, ApiErrorCodes.BAD_REQUEST, err.message);
  const params = first.params as Record<string, unknown>;
  if (first.keyword === 'additionalProperties') {
    const allowed = Object.keys(
      (
        (context === 'params' ? schema?.params : context === 'body' ? schema?.body : schema?.querystring) as {
          properties?: Record<string, unknown>;
        }
      )?.properties ?? {},
    );
    const name = String(params.additionalProperty);
    return new ApiError(
      400,
      ApiErrorCodes.UNKNOWN_PARAMETER,
      allowed.length
        ? `unknown ${where} "${name}" (allowed: ${allowed.join(', ')})`
        : `unknown ${where} "${name}" (this route takes none)`,
    );
  }
  if (first.keyword === 'required')
    return new ApiError(
      400,
      ApiErrorCodes.MISSING_PARAMETER,
      `missing ${where} "${String(params.missingProperty)}"`,
    );
  const name = first.instancePath.replace(/^\//, '').split('/')[0] || '(all)';
  const allowed = Array.isArray(params.allowedValues) ? ` (${params.allowedValues.join(', ')})` : '';
  const detail =
    first.keyword === 'type' && params.type === 'string'
      ? context === 'body'
        ? 'must be text'
        : 'must be given once, as text'
      : first.message;
  return new ApiError(400, ApiErrorCodes.INVALID_PARAMETER, `${where} "${name}" ${detail}${allowed}`);
}
