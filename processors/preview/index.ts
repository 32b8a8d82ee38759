/** Previewing a candidate price book on published usage (shadow rating); see README.md. */
export { loadCandidateBook, priceBookDiff, readPublishedRecords, runPriceBookDiff } from './diff';
export { DIFF_FORMATS, formatDiff, formatDiffTable, type DiffFormat } from './format';
export {
  LISTED_RECORDS_LIMIT,
  ShadowDiff,
  shadowDiff,
  type CurrencyDiff,
  type CurrencyTotal,
  type CustomerDiff,
  type PriceBookDiff,
  type RuleDiff,
  type UnratedRecord,
  type UnratedRecords,
} from './shadow';
