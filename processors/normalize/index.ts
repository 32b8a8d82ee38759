export {
  normalizeRow,
  recordId,
  checkRecord,
  COMPILERS,
  planFor,
  normalizeValues,
  normalizeBatch,
  type RowOutcome,
  unsupportedFormat,
  SUPPORTED_FORMATS,
  type NormalizeResult,
  type NormalizeFailureReason,
} from './normalize';
export {
  NormalizeOptionsSchema,
  parseNormalizeOptions,
  DEFAULT_NORMALIZE_OPTIONS,
  type NormalizeOptions,
  type NormalizeOptionsInput,
} from './config';
export {
  AttributionConfigSchema,
  ATTRIBUTION_PRECEDENCE,
  attributeCustomer,
  type AttributionConfig,
  type AttributionConfigInput,
  type AttributionInput,
  type AttributionResult,
  type AttributionRuleKind,
} from './attribution';
export {
  serviceCategory,
  serviceCategoriesPath,
  serviceCategoryCounts,
  isServiceCategory,
  FOCUS_SERVICE_CATEGORIES,
  type ServiceCategory,
} from './service-categories';
export { parseTimestampMs, formatIso, FieldError } from './values';
export {
  CHARGE_CATEGORIES,
  CHARGE_FREQUENCIES,
  type FocusFields,
  type RowContext,
  type RowMapper,
} from './types';
