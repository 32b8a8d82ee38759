import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import crypto from 'node:crypto';
import path from 'node:path';
import { loadConfig, type MeterflowConfig } from '../../runtime/config';

export function testConfig(): MeterflowConfig {
  return loadConfig().config;
}

/** A name no other test run uses, so tests never see each other's data. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${crypto.randomBytes(3).toString('hex')}`;
}

export async function eventually<T>(
  fn: () => Promise<T | undefined>,
  timeoutMs = 30_000,
  stepMs = 200,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await fn();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, stepMs));
  }
  throw new Error(`condition not met within ${timeoutMs} ms${last ? `: ${String(last)}` : ''}`);
}

const ROOT = path.resolve(__dirname, '../..');

/**
 * The real CLI as an operator runs it (`meterflow --config <file> <args>`), one node process from
 * the sources (no wrapper process, so a signal reaches the process doing the work).
 */
export function meterflowProcess(
  args: string[],
  configFile: string,
  options: { stdio?: StdioOptions; logLevel?: string } = {},
): ChildProcess {
  return spawn(
    process.execPath,
    ['--import', 'tsx', path.join(ROOT, 'cli/main.ts'), '--config', configFile, ...args],
    {
      cwd: ROOT,
      stdio: options.stdio ?? ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, METERFLOW_LOG__LEVEL: options.logLevel ?? 'warn' },
    },
  );
}

/** The exit code of a child process (null when a signal ended it). */
export function exitOf(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}
