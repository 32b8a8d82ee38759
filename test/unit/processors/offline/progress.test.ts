import { PassThrough } from 'node:stream';
import { RateProgress } from '../../../../processors/offline/progress';

function capture(tty: boolean): { stream: NodeJS.WriteStream; text: () => string } {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (d: Buffer) => (text += d.toString()));
  Object.assign(stream, { isTTY: tty });
  return { stream: stream as unknown as NodeJS.WriteStream, text: () => text };
}

describe('meterflow rate progress', () => {
  it('reports rows, MB/s, the share done and an ETA from the counters and the clock', () => {
    let now = 1_000_000;
    const out = capture(false);
    const progress = new RateProgress({ stream: out.stream, totalBytes: 100e6, now: () => now });
    progress.rows = 1234567;
    progress.bytes = 25e6;
    now += 10_000;
    // 25 MB in 10 s is 2.5 MB/s; the other 75 MB take 30 s more at that speed.
    expect(progress.line()).toBe('rate: 1,234,567 rows, 25.0 MB of 100.0 MB (25%), 2.5 MB/s, ETA 30 s');
    progress.bytes = 50e6;
    now += 290_000;
    expect(progress.line()).toMatch(/\(50%\), 0\.2 MB\/s, ETA 5 min 0 s$/);
  });

  it('leaves out the share and the ETA when the size is not known', () => {
    let now = 0;
    const progress = new RateProgress({ stream: capture(false).stream, now: () => now });
    progress.rows = 10;
    progress.bytes = 3e6;
    now = 2_000;
    expect(progress.line()).toBe('rate: 10 rows, 3.0 MB, 1.5 MB/s');
  });

  it('rewrites one line in place on a terminal and clears it when stopped', () => {
    const out = capture(true);
    const progress = new RateProgress({ stream: out.stream, totalBytes: 10 });
    progress.print();
    progress.print();
    expect(out.text()).not.toContain('\n');
    expect(out.text().split('\r\x1b[K')).toHaveLength(3);
    progress.stop();
    expect(out.text().endsWith('\r\x1b[K')).toBe(true);
  });

  it('appends a line per interval when stderr is not a terminal, and writes nothing after stop', async () => {
    const out = capture(false);
    const progress = new RateProgress({ stream: out.stream, intervalMs: 20 }).start();
    progress.rows = 5;
    await new Promise((r) => setTimeout(r, 120));
    progress.stop();
    const lines = out.text().split('\n').filter(Boolean);
    expect(lines.length).toBeGreaterThanOrEqual(2);
    for (const line of lines) expect(line).toMatch(/^rate: 5 rows, 0\.0 MB, /);
    const after = out.text();
    await new Promise((r) => setTimeout(r, 60));
    expect(out.text()).toBe(after);
  });
});
