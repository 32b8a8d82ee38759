export { ApiConfigSchema, ApiKeySchema, DEFAULT_API_OPTIONS, parseApiOptions } from './config';
export type { ApiKeyEntry, ApiOptions, ApiOptionsInput } from './config';
export { canReadCustomer, createAuthenticator, generateApiKey, hashApiKey, requireAdmin } from './auth';
export type { Authenticator, Principal } from './auth';
export { ApiError, ApiErrorCodes } from './errors';
export type { ApiErrorCode, ErrorBody } from './errors';
export { OPENAPI_FILE, openApiSpec, renderOpenApiSpec } from './openapi';
export { buildApi, startApi } from './server';
export type { ApiDependencies, InvoiceHtmlRenderer, RunningApi } from './server';
