import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';

/**
 * Process bookkeeping for the local stack. Each server runs detached in its own process group,
 * with stdout and stderr appended to a log file, and a pid file recording what we started.
 * `stop` only signals process groups recorded in our pid files whose command line still carries
 * our marker (the state folder path), so a recycled pid or a server someone else started is never
 * touched.
 */
export interface PidRecord {
  pid: number;
  marker: string;
  command: string;
  started_at: string;
}

export interface SpawnSpec {
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  uid?: number;
  gid?: number;
}

export function readPidFile(file: string): PidRecord | undefined {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as PidRecord;
  } catch {
    return undefined;
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function cmdlineOf(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return '';
  }
}

/** The pid file's process is alive and still the one we started. */
export function ownedProcessAlive(record: PidRecord | undefined): boolean {
  if (!record || !isAlive(record.pid)) return false;
  const cmd = cmdlineOf(record.pid);
  // The launcher may still be a shell script that has not exec'd the server yet: its command line
  // then names the script, not the marker.
  return cmd === '' || cmd.includes(record.marker) || cmd.includes(record.command);
}

export function startDetached(spec: SpawnSpec, logFile: string, pidFile: string, marker: string): PidRecord {
  fs.mkdirSync(path.dirname(logFile), { recursive: true });
  fs.mkdirSync(path.dirname(pidFile), { recursive: true });
  const out = fs.openSync(logFile, 'a');
  fs.writeSync(out, `\n==== ${new Date().toISOString()} starting: ${spec.command} ${spec.args.join(' ')}\n`);
  const child = spawn(spec.command, spec.args, {
    cwd: spec.cwd,
    env: spec.env,
    detached: true,
    stdio: ['ignore', out, out],
    uid: spec.uid,
    gid: spec.gid,
  });
  fs.closeSync(out);
  if (child.pid === undefined) throw new Error(`could not start ${spec.command}`);
  child.unref();
  const record: PidRecord = {
    pid: child.pid,
    marker,
    command: spec.command,
    started_at: new Date().toISOString(),
  };
  fs.writeFileSync(pidFile, JSON.stringify(record));
  return record;
}

/** SIGTERM the process group, wait up to `graceMs`, then SIGKILL it. */
export async function stopProcessGroup(record: PidRecord, graceMs = 20_000): Promise<void> {
  const signal = (sig: NodeJS.Signals) => {
    try {
      process.kill(-record.pid, sig);
    } catch {
      try {
        process.kill(record.pid, sig);
      } catch {
        /* already gone */
      }
    }
  };
  signal('SIGTERM');
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!isAlive(record.pid)) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  signal('SIGKILL');
}

export function portInUse(port: number, host = '127.0.0.1', timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host });
    const done = (value: boolean) => {
      socket.destroy();
      resolve(value);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

export async function httpStatus(url: string, timeoutMs = 2000): Promise<number | undefined> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    await res.arrayBuffer();
    return res.status;
  } catch {
    return undefined;
  }
}

export function tailFile(file: string, lines: number): string {
  try {
    const text = fs.readFileSync(file, 'utf8');
    return text
      .split('\n')
      .slice(-lines - 1)
      .join('\n');
  } catch {
    return '(no log yet)';
  }
}
