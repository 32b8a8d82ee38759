/**
 * Child process of streaming.test.ts (run with plain node, --expose-gc, and tsx): rates a generated
 * FOCUS CSV to a slow stdout-like sink and reports live-heap samples as JSON on stdout. A separate
 * process keeps jest's module registry and sandbox out of the measurement.
 */
import { statSync } from 'node:fs';
import { Writable } from 'node:stream';
import { runRate } from '../../../../processors/offline/rate';

const gc = (globalThis as { gc?: () => void }).gc;

async function main(): Promise<void> {
  const [input, everyText] = process.argv.slice(2);
  const every = Number(everyText);
  if (!gc) throw new Error('run with --expose-gc');
  const live = (): number => {
    gc();
    return process.memoryUsage().heapUsed;
  };
  let lines = 0;
  let drains = 0;
  let pendingText = '';
  const samples: number[] = [];
  // A slow consumer: small buffer, every chunk acknowledged on a later turn, so write() returns
  // false and the producer has to wait for 'drain'.
  const sink = new Writable({
    highWaterMark: 16 * 1024,
    write(chunk: Buffer, _enc, cb) {
      const text = pendingText + chunk.toString('utf8');
      const parts = text.split('\n');
      pendingText = parts.pop() ?? '';
      for (let i = 0; i < parts.length; i++) {
        lines++;
        if (lines % every === 0) samples.push(live());
      }
      setImmediate(cb);
    },
  });
  sink.on('drain', () => drains++);
  const before = live();
  const summary = await runRate({
    provider: 'focus',
    input,
    out: '-',
    stdout: sink,
    stderr: new Writable({ write: (_c, _e, cb) => cb() }),
  });
  const after = live();
  process.stdout.write(
    JSON.stringify({
      fileSize: statSync(input).size,
      before,
      after,
      samples,
      lines,
      drains,
      rowsIn: summary.rows_in,
      rowsOut: summary.rows_out,
      billed: summary.billed_cost,
    }),
  );
}

main().catch((err: unknown) => {
  process.stderr.write(`${String((err as Error).stack ?? err)}\n`);
  process.exit(1);
});
