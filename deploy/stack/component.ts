import path from 'node:path';
import type { MeterflowConfig } from '../../runtime/config';
import type { SpawnSpec } from './processes';

/*
 * What a server of the local stack is to `meterflow stack` (stack.ts): where it lives, how it is
 * installed, prepared, started and checked. One file per server implements it (kafka.ts,
 * elasticsearch.ts, object-stores.ts, toxiproxy.ts); components.ts lists them.
 */

/** Where things live for one local stack. */
export interface StackPaths {
  /** Per-checkout state (ignored by git): logs, pid files, data. */
  stateDir: string;
  logsDir: string;
  runDir: string;
  dataDir: string;
  /** Per-machine cache of downloaded and built servers. */
  cacheDir: string;
}

export interface StackContext {
  config: MeterflowConfig;
  paths: StackPaths;
  /** Progress lines for a person watching `stack up`. */
  say: (line: string) => void;
}

export interface StackComponent {
  readonly name: string;
  endpoint(ctx: StackContext): string;
  /** Fetch or build the server into the cache; idempotent and cheap once done. */
  install(ctx: StackContext): Promise<void>;
  /** Per-stack preparation (config files, storage format) and the command that runs the server. */
  prepare(ctx: StackContext): Promise<SpawnSpec & { marker: string }>;
  healthy(ctx: StackContext): Promise<boolean>;
  port(ctx: StackContext): number;
  /** Seconds to wait for health after start. */
  readonly startTimeoutS: number;
}

export const logFileOf = (ctx: StackContext, name: string) => path.join(ctx.paths.logsDir, `${name}.log`);
export const installLogOf = (ctx: StackContext, name: string) =>
  path.join(ctx.paths.logsDir, `${name}-install.log`);
