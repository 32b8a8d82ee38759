import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../../runtime/config';
import { renderExampleConfig } from '../../../runtime/config-example';

const root = path.resolve(__dirname, '../../..');
const tsx = require.resolve('tsx', { paths: [root] });
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meterflow-init-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const init = (...args: string[]) =>
  spawnSync(process.execPath, ['--import', tsx, path.join(root, 'cli/main.ts'), 'config', 'init', ...args], {
    cwd: dir,
    encoding: 'utf8',
  });

describe('meterflow config init', () => {
  it('writes a file that loads, and refuses to overwrite it without --force', () => {
    const out = path.join(dir, 'mf.yaml');
    const first = init('--out', out);
    expect(first.status).toBe(0);
    expect(loadConfig({ path: out, env: {} }).source).toBe(out);
    fs.appendFileSync(out, 'log: { level: debug }\n');
    const again = init('--out', out);
    expect(again.status).toBe(1);
    expect(again.stderr).toContain(`${out} exists; not overwritten (--force overwrites it)`);
    expect(fs.readFileSync(out, 'utf8')).toContain('log: { level: debug }');
    expect(init('--out', out, '--force').status).toBe(0);
    expect(fs.readFileSync(out, 'utf8')).toBe(renderExampleConfig());
  }, 60_000);

  it('lists every option with its real default: uncommented whole, it loads as the defaults', () => {
    const uncommented = renderExampleConfig()
      .split('\n')
      .map((l) => l.replace(/^# /, ''))
      .join('\n');
    const file = path.join(dir, 'uncommented.yaml');
    fs.writeFileSync(file, uncommented);
    const loaded = loadConfig({ path: file, env: {} }).config;
    const defaults = loadConfig({ env: {}, cwd: dir }).config;
    expect(loaded).toEqual(defaults);
    // It is the whole schema: every section of the defaults appears.
    for (const section of Object.keys(defaults)) expect(uncommented).toMatch(new RegExp(`^${section}:`, 'm'));
  });
});
