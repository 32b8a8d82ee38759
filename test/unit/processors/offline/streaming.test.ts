import { execFile } from 'node:child_process';
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { promisify } from 'node:util';
import { Decimal, decimalToString } from '../../../../schemas/decimal';

const MB = 1024 * 1024;
const ROWS = 20_000;
const SAMPLE_EVERY = 2_000;
const HEADER =
  'BillingPeriodStart,BillingPeriodEnd,ChargePeriodStart,ChargePeriodEnd,ChargeCategory,BilledCost,' +
  'EffectiveCost,BillingCurrency,ServiceName,SubAccountId,ResourceId,ChargeDescription\n';
// Long descriptions make the file large (~22 MB) at a row count the normalize stage rates quickly.
const PAD = 'x'.repeat(1000);

const costOf = (i: number) => `${i % 97}.${String(i).padStart(6, '0')}123456789`;

async function generate(path: string): Promise<string> {
  const ws = createWriteStream(path);
  let total = new Decimal(0);
  let buf = HEADER;
  for (let i = 0; i < ROWS; i++) {
    const cost = costOf(i);
    total = total.plus(cost);
    buf +=
      `2026-03-01T00:00:00Z,2026-04-01T00:00:00Z,2026-03-02T${String(i % 24).padStart(2, '0')}:00:00Z,` +
      `2026-03-02T${String(i % 24).padStart(2, '0')}:59:59Z,Usage,${cost},${cost},USD,Amazon Elastic Compute Cloud,` +
      `acct-${i % 7},i-${i},"row ${i} ${PAD}"\n`;
    if (buf.length > 1 << 20) {
      if (!ws.write(buf)) await once(ws, 'drain');
      buf = '';
    }
  }
  ws.end(buf);
  await once(ws, 'finish');
  return decimalToString(total);
}

interface Probe {
  fileSize: number;
  before: number;
  after: number;
  samples: number[];
  lines: number;
  drains: number;
  rowsIn: number;
  rowsOut: number;
  billed: Record<string, string>;
}

it('streams a large input with flat memory and honours backpressure', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'meterflow-rate-big-'));
  try {
    const input = join(dir, 'focus-big.csv');
    const total = await generate(input);
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--expose-gc', '--import', 'tsx', join(__dirname, 'memory-probe.ts'), input, String(SAMPLE_EVERY)],
      { cwd: join(__dirname, '..', '..', '..', '..'), maxBuffer: 1 << 20 },
    );
    const p = JSON.parse(stdout) as Probe;
    expect(p.fileSize).toBeGreaterThan(20 * MB);
    expect(p.rowsIn).toBe(ROWS);
    expect(p.rowsOut).toBe(ROWS);
    expect(p.lines).toBe(ROWS);
    expect(p.billed).toEqual({ USD: total });
    // The producer met a full consumer and waited for it.
    expect(p.drains).toBeGreaterThan(10);
    expect(p.samples.length).toBe(ROWS / SAMPLE_EVERY);
    // Live heap while rating (forced GC at every sample) and after: about 2 MB of code and caches
    // whatever the input size (measured), against a >20 MB file whose rows as objects would take
    // several times that. Bounded at 6 MB, under a third of the file.
    const peakGrowth = Math.max(...p.samples) - p.before;
    expect(peakGrowth).toBeLessThan(6 * MB);
    expect(peakGrowth).toBeLessThan(p.fileSize / 3);
    expect(p.after - p.before).toBeLessThan(4 * MB);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 60_000);
