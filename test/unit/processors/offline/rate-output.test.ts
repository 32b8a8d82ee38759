import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import zlib from 'node:zlib';
import { runRate } from '../../../../processors/offline/rate';
import { fixture } from '../../../support/fixtures';

const KOKU = fixture(
  'aws/legacy-cur/s3-layout-create-new/koku-local/20180801-20180901/16e57707-f9e3-49be-8be6-b84e684b5194/koku-local-1.csv.gz',
);
const quiet = () => new Writable({ write: (_c, _e, done) => done() });

describe('meterflow rate --out', () => {
  let dir: string;
  let input: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meterflow-rate-out-'));
    input = path.join(dir, 'cur.csv');
    fs.writeFileSync(input, zlib.gunzipSync(fs.readFileSync(KOKU)));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('refuses a folder before reading any row, naming it', async () => {
    const out = path.join(dir, 'a-folder');
    fs.mkdirSync(out);
    await expect(runRate({ provider: 'aws', input, out, stderr: quiet() })).rejects.toThrow(
      `--out ${out} is a folder`,
    );
    expect(fs.readdirSync(out)).toEqual([]);
  });

  it('refuses a path whose folder does not exist, naming the file', async () => {
    const out = path.join(dir, 'no', 'such', 'rated.ndjson');
    await expect(runRate({ provider: 'aws', input, out, stderr: quiet() })).rejects.toThrow(
      `cannot write ${out}.partial-${process.pid}`,
    );
  });

  it('writes into a FIFO (like /dev/null) directly instead of renaming a file over it', async () => {
    const fifo = path.join(dir, 'pipe');
    execFileSync('mkfifo', [fifo]);
    let received = '';
    const reader = new Promise<void>((resolve, reject) => {
      fs.createReadStream(fifo)
        .on('data', (c) => (received += String(c)))
        .on('end', resolve)
        .on('error', reject);
    });
    const summary = await runRate({ provider: 'aws', input, out: fifo, stderr: quiet() });
    await reader;
    expect(fs.statSync(fifo).isFIFO()).toBe(true);
    expect(summary.rows_out).toBe(13_380);
    expect(received.trim().split('\n')).toHaveLength(summary.rows_out);
    expect(fs.readdirSync(dir).filter((f) => f.includes('.partial-'))).toEqual([]);
  });

  // /dev/full answers every write with ENOSPC: a full disk, for real (Linux has it everywhere).
  it('names the output file when the disk is full', async () => {
    await expect(runRate({ provider: 'aws', input, out: '/dev/full', stderr: quiet() })).rejects.toThrow(
      /^\/dev\/full: .*ENOSPC/,
    );
  });

  it('removes its partial output when stopped by a signal', async () => {
    // Enough rows that the run is still writing when the signal comes.
    const big = path.join(dir, 'big.csv');
    const text = zlib.gunzipSync(fs.readFileSync(KOKU));
    const headerEnd = text.indexOf(0x0a) + 1;
    const fd = fs.openSync(big, 'w');
    fs.writeSync(fd, text.subarray(0, headerEnd));
    for (let i = 0; i < 30; i++) fs.writeSync(fd, text.subarray(headerEnd));
    fs.closeSync(fd);
    const out = path.join(dir, 'stopped.ndjson');
    const root = path.resolve(__dirname, '../../../..');
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        path.join(root, 'cli/main.ts'),
        'rate',
        '--provider',
        'aws',
        '--input',
        big,
        '--out',
        out,
      ],
      { cwd: root, stdio: 'ignore' },
    );
    const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const partial = `${out}.partial-${child.pid}`;
    for (let i = 0; i < 600 && !(fs.existsSync(partial) && fs.statSync(partial).size > 0); i++)
      await new Promise((r) => setTimeout(r, 50));
    expect(fs.existsSync(partial)).toBe(true);
    child.kill('SIGTERM');
    expect(await exit).toBe(143);
    expect(fs.existsSync(partial)).toBe(false);
    expect(fs.existsSync(`${out}.dead-letters.ndjson.partial-${child.pid}`)).toBe(false);
    expect(fs.existsSync(out)).toBe(false);
  }, 60_000);
});
