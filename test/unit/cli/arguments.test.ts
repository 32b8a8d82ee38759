import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { hashApiKey, parseApiOptions } from '../../../api';

/**
 * Every usage error is caught while the command line is parsed: exit 2 and a message naming the
 * option, before the command reads its configuration's servers. The configuration points every
 * client at closed ports, so a command that connected first would fail with a network error
 * (exit 1) instead, or hang.
 */
const root = path.resolve(__dirname, '../../..');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meterflow-cli-args-'));
const configFile = path.join(dir, 'unreachable.yaml');
fs.writeFileSync(
  configFile,
  [
    'local_stack: false',
    'kafka:',
    '  brokers: ["127.0.0.1:1"]',
    'elasticsearch:',
    '  node: http://127.0.0.1:1',
    '',
  ].join('\n'),
);
// Resolved here: the commands run in a scratch folder, where `--import tsx` would not find it.
const tsx = require.resolve('tsx', { paths: [root] });
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function cli(args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--import', tsx, path.join(root, 'cli/main.ts'), '--config', configFile, ...args],
      { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

const cases: Array<[string, string[], RegExp]> = [
  ['an invalid month', ['invoice', 'generate', '--period', '2026-13'], /'2026-13'.*not a billing period/],
  ['a missing period', ['invoice', 'finalize'], /required option '--period <YYYY-MM>'/],
  ['a period that is no date', ['export', '--period', 'last', '--out', 'x.ndjson'], /'last'.*YYYY-MM/],
  [
    'an unknown collector',
    ['collect', 'acme', '--once'],
    /'acme' is invalid for argument 'provider'.*aws, gcp, azure/,
  ],
  [
    'an unknown stage',
    ['process', 'enrich'],
    /'enrich' is invalid for argument 'stage'.*normalize, dedupe, price, all/,
  ],
  ['an unknown dead-letter reason', ['replay', '--reason', 'unpricd'], /'unpricd' is invalid.*unpriced/],
  [
    'a stage that cannot be replayed',
    ['replay', '--reason', 'unpriced', '--stage', 'collector'],
    /'collector' is invalid.*processor\.price/,
  ],
  [
    'an unknown provider',
    ['rate', '--provider', 'oracle', '--input', '.', '--out', '-'],
    /'oracle' is invalid.*focus/,
  ],
  [
    'an unknown format',
    ['export', '--period', '2026-10', '--format', 'xlsx', '--out', 'x'],
    /'xlsx' is invalid.*ndjson, csv, parquet/,
  ],
  [
    'an unknown diff format',
    ['pricebook', 'diff', '--book', 'b.yaml', '--period', '2026-10', '--format', 'csv'],
    /'csv' is invalid.*table, json/,
  ],
  [
    'a candidate price book that cannot be read',
    ['pricebook', 'diff', '--book', 'no-such-book.yaml', '--period', '2026-10'],
    /--book: invalid price book no-such-book\.yaml.*\n.*no-such-book\.yaml: cannot read the file \(ENOENT\)/,
  ],
  [
    'a re-rate date that is not a calendar day',
    ['pricebook', 'rerate', 'v2', '--from', '2026-02-30'],
    /--from 2026-02-30: expected a calendar date YYYY-MM-DD/,
  ],
  ['a re-rate without --from', ['pricebook', 'rerate', 'v2'], /required option '--from <YYYY-MM-DD>'/],
  [
    'a publish whose re-rate date is not a calendar day',
    ['pricebook', 'publish', 'book.yaml', '--rerate-from', '2026-1-5'],
    /--rerate-from 2026-1-5: expected a calendar date YYYY-MM-DD/,
  ],
  ['a port that is no number', ['api', '--port', 'http'], /'http' is invalid.*not a port/],
  [
    'a key of two roles',
    ['api', 'new-key', '--id', 'k', '--metrics', '--ingest', '//deploy.example.com/*'],
    /--customer, --metrics and --ingest exclude each other/,
  ],
  ['a port out of range', ['sink', 'elasticsearch', '--ops-port', '70000'], /'70000' is invalid.*not a port/],
  [
    'a line count that is no number',
    ['stack', 'logs', 'kafka', '-n', 'all'],
    /'all' is invalid.*positive integer/,
  ],
];

describe('meterflow command-line validation', () => {
  let runs: Run[];
  // One spawn per case, all at once: each is a Node start-up, no server is contacted.
  beforeAll(async () => {
    runs = await Promise.all(cases.map(([, args]) => cli(args)));
  }, 60_000);

  it.each(cases.map((c, i) => [c[0], i] as const))('refuses %s with exit 2 before connecting', (_, i) => {
    const run = runs[i];
    expect(run.stderr).toMatch(cases[i][2]);
    expect(run.stderr).not.toMatch(/ECONNREFUSED|network/);
    expect(run.code).toBe(2);
  });

  it('--version prints the version of package.json and exits 0', async () => {
    const { version } = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as {
      version: string;
    };
    const run = await cli(['--version']);
    expect(run.stdout.trim()).toBe(version);
    expect(run.code).toBe(0);
  }, 30_000);

  it('api new-key prints a key and a config entry the API accepts, with its role', async () => {
    const keyOf = (run: Run) => {
      expect(run.code).toBe(0);
      const key = /^key \(give it to the client; it is not stored\): (\S+)$/m.exec(run.stdout)?.[1] ?? '';
      const entry = /^config \(api\.keys\): - (.+)$/m.exec(run.stdout)?.[1] ?? '';
      return { key, options: parseApiOptions({ keys: [YAML.parse(entry)] }) };
    };
    const [ingest, admin] = await Promise.all([
      cli([
        'api',
        'new-key',
        '--id',
        'deployer',
        '--ingest',
        '//deploy.example.com/*, //ci',
        '--customer',
        'acme',
      ]),
      cli(['api', 'new-key', '--id', 'ops']),
    ]);
    const i = keyOf(ingest);
    expect(i.options.keys[0]).toMatchObject({
      id: 'deployer',
      role: 'ingest',
      sources: ['//deploy.example.com/*', '//ci'],
      customers: ['acme'],
      key_sha256: hashApiKey(i.key),
    });
    const a = keyOf(admin);
    expect(a.options.keys[0]).toMatchObject({ id: 'ops', role: 'admin', key_sha256: hashApiKey(a.key) });
    expect(a.key).not.toBe(i.key);
  }, 30_000);
});
