import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { isInstalled, markInstalled, run, withLock } from './artifacts';
import { installLogOf, type StackContext } from './component';

/**
 * Builds a Go tool once per machine into `<cache>/<name>-<version>/bin` and returns its path.
 * `probe`: a command (like `version`) that a complete binary answers with exit 0; a binary
 * already in place without the installed marker (built by hand with the same GOBIN, or by a run
 * killed after the copy) is then checked with it and kept instead of rebuilt. `tags`: Go build
 * tags, for tools whose optional parts we do not need (a smaller, faster build).
 */
export async function goInstall(
  ctx: StackContext,
  name: string,
  module: string,
  version: string,
  options: { probe?: string[]; tags?: string[] } = {},
): Promise<string> {
  const { probe: probeArgs, tags = [] } = options;
  const dir = path.join(ctx.paths.cacheDir, `${name}-${version}`);
  const binary = path.join(dir, 'bin', path.basename(module));
  if (isInstalled(dir)) return binary;
  await withLock(`${dir}.lock`, async () => {
    if (isInstalled(dir)) return;
    if (probeArgs && fs.existsSync(binary)) {
      try {
        execFileSync(binary, probeArgs, { stdio: 'ignore', timeout: 30_000 });
        markInstalled(dir);
        return;
      } catch {
        // Incomplete or foreign: rebuilt below (quick when Go's build cache has it).
      }
    }
    ctx.say(`${name}: building ${module}@${version} with go install (once per machine; minutes on 2 cores)`);
    fs.mkdirSync(path.join(dir, 'bin'), { recursive: true });
    const tagArgs = tags.length ? ['-tags', tags.join(',')] : [];
    await run('go', ['install', ...tagArgs, `${module}@${version}`], {
      env: { ...process.env, GOBIN: path.join(dir, 'bin'), GOFLAGS: '-buildvcs=false', CGO_ENABLED: '0' },
      logFile: installLogOf(ctx, name),
    });
    markInstalled(dir);
  });
  return binary;
}
