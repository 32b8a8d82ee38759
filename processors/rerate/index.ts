/** Re-rating published usage after a price-book change (`meterflow pricebook rerate`); see README.md. */
export { effect, runRerate, type RerateOptions, type RerateSummary } from './run';
export { decideScope, parseFromDate, ScopeRerate, totalsEffect } from './rerate';
export { rerateRevisionId, rerateVersionOf } from '../../schemas/revision-id';
export { checkpointKey, parseCheckpoint, type RerateCheckpoint } from './checkpoints';
