/**
 * Errors the API answers with. Every 4xx/5xx body is `{ error: { code, message } }`; the message
 * of an ApiError is written for the client. Anything else thrown in a handler becomes a 500 (or a
 * 503 when Elasticsearch is unreachable) with a generic message: foreign error text can carry
 * index names, hosts or stack frames, so it goes to the log only.
 *
 * The codes are a subset of runtime/errors.ts ErrorCodes (one vocabulary), so an ApiError is a
 * MeterflowError like any other.
 */
import { ErrorCodes, MeterflowError, type ErrorCode } from '../runtime/errors';

export const ApiErrorCodes = {
  UNAUTHORIZED: ErrorCodes.UNAUTHORIZED,
  FORBIDDEN: ErrorCodes.FORBIDDEN,
  NOT_FOUND: ErrorCodes.NOT_FOUND,
  INVALID_PARAMETER: ErrorCodes.INVALID_PARAMETER,
  MISSING_PARAMETER: ErrorCodes.MISSING_PARAMETER,
  UNKNOWN_PARAMETER: ErrorCodes.UNKNOWN_PARAMETER,
  INVALID_RANGE: ErrorCodes.INVALID_RANGE,
  RANGE_TOO_LONG: ErrorCodes.RANGE_TOO_LONG,
  BAD_REQUEST: ErrorCodes.BAD_REQUEST,
  INTERNAL: ErrorCodes.INTERNAL,
  UNAVAILABLE: ErrorCodes.UNAVAILABLE,
  THROTTLED: ErrorCodes.THROTTLED,
  TIMEOUT: ErrorCodes.TIMEOUT,
} as const satisfies Record<string, ErrorCode>;
export type ApiErrorCode = (typeof ApiErrorCodes)[keyof typeof ApiErrorCodes];

/** An answer for the client. Retryable when the status says so (429, 5xx), like classifyError. */
export class ApiError extends MeterflowError {
  declare readonly code: ApiErrorCode;

  constructor(
    readonly status: number,
    code: ApiErrorCode,
    message: string,
  ) {
    super(code, message, { retryable: status === 429 || status >= 500, details: { status } });
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
