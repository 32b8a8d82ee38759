import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { PermanentError, ErrorCodes } from '../../runtime/errors';
import { isAlive } from './processes';

/**
 * Fetching and building the stack's servers, once per machine, into the cache folder. Every
 * artifact comes from a package registry through its own client (mvn, go, npm) with that client's
 * default registry; nothing here names a host. An artifact is complete when its `.installed`
 * marker exists, written last, so an interrupted install is redone rather than half-used.
 */
export async function run(
  command: string,
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; logFile: string },
): Promise<void> {
  fs.mkdirSync(path.dirname(options.logFile), { recursive: true });
  const out = fs.openSync(options.logFile, 'a');
  fs.writeSync(out, `\n$ ${command} ${args.join(' ')}\n`);
  try {
    await new Promise<void>((resolve, reject) => {
      const child = spawn(command, args, {
        cwd: options.cwd,
        env: options.env ?? process.env,
        stdio: ['ignore', out, out],
      });
      child.once('error', reject);
      child.once('exit', (code, signal) =>
        code === 0
          ? resolve()
          : reject(
              new PermanentError(
                ErrorCodes.STACK_INSTALL_FAILED,
                `${command} ${args.slice(0, 3).join(' ')} failed (${signal ?? `exit ${code}`}); see ${options.logFile}`,
              ),
            ),
      );
    });
  } finally {
    fs.closeSync(out);
  }
}

export function isInstalled(dir: string): boolean {
  return fs.existsSync(path.join(dir, '.installed'));
}

export function markInstalled(dir: string): void {
  fs.writeFileSync(path.join(dir, '.installed'), new Date().toISOString());
}

/** A cross-process lock so two `stack up`s (a user and a test run) never install the same thing at once. */
export async function withLock<T>(
  lockFile: string,
  fn: () => Promise<T>,
  timeoutMs = 30 * 60_000,
): Promise<T> {
  fs.mkdirSync(path.dirname(lockFile), { recursive: true });
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      fs.writeFileSync(lockFile, String(process.pid), { flag: 'wx' });
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const holder = Number(fs.readFileSync(lockFile, 'utf8') || '0');
      if (!(holder > 0 && isAlive(holder))) {
        fs.rmSync(lockFile, { force: true });
        continue;
      }
      if (Date.now() > deadline)
        throw new Error(`timed out waiting for lock ${lockFile} held by pid ${holder}`);
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  try {
    return await fn();
  } finally {
    fs.rmSync(lockFile, { force: true });
  }
}

export function kafkaPom(version: string): string {
  // kafka_2.13 is the broker (kafka.Kafka, kafka.tools.StorageTool); Kafka 4 logs through slf4j,
  // bound here to reload4j so one log4j.properties file configures it.
  return `<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>io.meterflow.stack</groupId>
  <artifactId>kafka-runtime</artifactId>
  <version>${version}</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>${version}</version></dependency>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka-tools</artifactId><version>${version}</version></dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-reload4j</artifactId><version>1.7.36</version></dependency>
  </dependencies>
</project>
`;
}
