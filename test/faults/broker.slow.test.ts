import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { eventually } from '../integration/helpers';
import { curLines } from '../integration/collectors/cur-fixture';
import { PipelineScenario } from './pipeline';
import { recordFigure } from './results';

/**
 * The Kafka broker killed (kill -9) and restarted while a revision is mid-flight: the collector,
 * the processors and the sink each have a transaction or a fetch open when the broker vanishes.
 * The pipeline runs as `meterflow run` (the product's supervisor, which restarts a stage that
 * exits), the broker is the local stack's own, restarted with `meterflow stack up kafka`. Open
 * transactions are aborted by the restarted broker; what was committed stays. The oracle: the
 * revision published with every row, one document per source row, the exact total.
 */
const ROWS = 100_000;
const ROOT = path.resolve(__dirname, '..', '..');
const run = promisify(execFile);

function brokerPid(): number {
  const record = JSON.parse(fs.readFileSync(path.join(ROOT, '.meterflow', 'run', 'kafka.pid'), 'utf8'));
  return record.pid as number;
}

async function brokerUp(): Promise<void> {
  await run(process.execPath, [path.join(ROOT, 'dist', 'cli', 'main.js'), 'stack', 'up', 'kafka'], {
    cwd: ROOT,
    timeout: 180_000,
  });
}

describe('faults: the Kafka broker killed mid-transaction', () => {
  jest.setTimeout(600_000);

  it('loses and doubles nothing', async () => {
    const s = new PipelineScenario('broker', [
      'collector:',
      '  poll_interval_ms: 2000',
      '  transaction_rows: 2000',
      'api:',
      '  port: 0',
    ]);
    let passed = false;
    try {
      const lines = curLines(ROWS);
      await s.putRevision('assembly-broker', lines);
      s.cli(['run'], 'run');
      // The collector mid-revision (a few of its 2,000-row transactions committed): the broker then
      // dies under an open transaction of every stage. (Killed after the revision was collected,
      // this scenario once passed while the collector path was broken.)
      await eventually(async () => ((await s.offsets('raw.aws')) > 3 ? true : undefined), 180_000, 50);

      const pid = brokerPid();
      process.kill(pid, 'SIGKILL');
      const killed = Date.now();
      await eventually(
        async () => {
          try {
            process.kill(pid, 0);
            return undefined;
          } catch {
            return true;
          }
        },
        30_000,
        100,
      );
      await new Promise((r) => setTimeout(r, 3_000));
      await brokerUp();
      recordFigure('s the broker was away', ((Date.now() - killed) / 1000).toFixed(1));

      const published = await s.revisionState('assembly-broker', 'published', 420_000);
      expect(published.row_count).toBe(ROWS);
      // The collector runs on inside `meterflow run` (a second one would fence it): it re-polls
      // the export every 2 s by itself.
      await s.expectOracle(lines, { recollect: false });
      recordFigure('s from the kill to the exact total', ((Date.now() - killed) / 1000).toFixed(1));
      passed = true;
    } finally {
      // Whatever happened, the stack's broker is left running for the tests after this one.
      await brokerUp();
      await s.close(passed);
    }
  });
});
