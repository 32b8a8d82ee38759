export * from './types';
export * from './config';
export * from './rounding';
export * from './compute';
export * from './store';
export * from './schedule';
export * from './command';
export * from './html';
