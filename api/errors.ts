/**
 * Errors the API answers with. Every 4xx/5xx body is `{ error: { code, message } }`; the message
 * of an ApiError is written for the client. Anything else thrown in a handler becomes a 500 (or a
 * 503 when Elasticsearch is unreachable) with a generic message: foreign error text can carry
 * index names, hosts or stack frames, so it goes to the log only.
 */
export const ApiErrorCodes = {
  UNAUTHORIZED: 'unauthorized',
  FORBIDDEN: 'forbidden',
  NOT_FOUND: 'not_found',
  INVALID_PARAMETER: 'invalid_parameter',
  MISSING_PARAMETER: 'missing_parameter',
  UNKNOWN_PARAMETER: 'unknown_parameter',
  INVALID_RANGE: 'invalid_range',
  RANGE_TOO_LONG: 'range_too_long',
  BAD_REQUEST: 'bad_request',
  INTERNAL: 'internal',
  UNAVAILABLE: 'unavailable',
} as const;
export type ApiErrorCode = (typeof ApiErrorCodes)[keyof typeof ApiErrorCodes];

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: ApiErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export interface ErrorBody {
  error: { code: ApiErrorCode; message: string };
}

export function errorBody(code: ApiErrorCode, message: string): ErrorBody {
  return { error: { code, message } };
}

export const badParameter = (message: string) => new ApiError(400, ApiErrorCodes.INVALID_PARAMETER, message);
/** The one answer for "does not exist" and "exists but is not yours": a customer key cannot probe. */
export const notFound = (what: string) => new ApiError(404, ApiErrorCodes.NOT_FOUND, `${what} not found`);
