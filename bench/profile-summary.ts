import fs from 'node:fs';
import path from 'node:path';

/**
 * Summarizes a V8 .cpuprofile (from `node --cpu-prof`): self time per function and per package,
 * the table bench/RESULTS.md quotes as "hot spots".
 *
 *   npx tsx bench/profile-summary.ts <file.cpuprofile> [top]
 */
interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

export function summarizeProfile(file: string, top = 15): { functions: string[]; packages: string[] } {
  const profile = JSON.parse(fs.readFileSync(file, 'utf8')) as {
    nodes: ProfileNode[];
    samples: number[];
  };
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<string, number>();
  const pkg = new Map<string, number>();
  for (const id of profile.samples) {
    const n = byId.get(id)!;
    const url = n.callFrame.url.replace(/^file:\/\//, '');
    const where = url ? `${path.basename(url)}:${n.callFrame.lineNumber + 1}` : '(native)';
    const key = `${n.callFrame.functionName || '(anonymous)'} ${where}`;
    self.set(key, (self.get(key) ?? 0) + 1);
    const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
    const owner = m ? m[1] : url.includes('/dist/') ? 'meterflow' : url ? 'node' : n.callFrame.functionName;
    pkg.set(owner, (pkg.get(owner) ?? 0) + 1);
  }
  const total = profile.samples.length;
  const fmt = (entries: Map<string, number>) =>
    [...entries]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([k, v]) => `${((v / total) * 100).toFixed(1)}% ${k}`);
  return { functions: fmt(self), packages: fmt(pkg) };
}

if (require.main === module) {
  const [file, top] = process.argv.slice(2);
  const s = summarizeProfile(file, Number(top ?? 15));
  process.stdout.write(
    `by package:\n  ${s.packages.join('\n  ')}\nby function (self):\n  ${s.functions.join('\n  ')}\n`,
  );
}
