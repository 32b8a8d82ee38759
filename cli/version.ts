import fs from 'node:fs';
import path from 'node:path';

/**
 * The version in meterflow's package.json. The CLI runs from source (cli/main.ts under tsx) and
 * from the build (dist/cli/main.js), one folder deeper, so the file is looked up upwards rather
 * than at a fixed relative path.
 */
export function packageVersion(from: string = __dirname): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    const file = path.join(dir, 'package.json');
    if (fs.existsSync(file)) {
      const pkg = JSON.parse(fs.readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'meterflow' && pkg.version) return pkg.version;
    }
    if (path.dirname(dir) === dir) return 'unknown';
  }
}
