/**
 * The progress of `meterflow rate` on stderr: rows read, input MB/s and, when the input's size is
 * known, the share done and an ETA. On a terminal one line is rewritten in place every half second;
 * otherwise (a log file, CI) a line is appended every 10 s, so a long run is never silent.
 *
 * The rating loop only adds to two counters (`rows`, `bytes`); all formatting happens on a timer,
 * off the hot path, and the timer does not keep the process alive.
 */
export interface ProgressOptions {
  stream?: NodeJS.WriteStream;
  /** Total input bytes as stored (compressed files count their compressed size), when known. */
  totalBytes?: number;
  /** Overrides the interval (ms): 500 on a terminal, 10 000 otherwise. */
  intervalMs?: number;
  now?: () => number;
}

export class RateProgress {
  rows = 0;
  bytes = 0;
  private readonly stream: NodeJS.WriteStream;
  private readonly tty: boolean;
  private readonly started: number;
  private readonly now: () => number;
  private timer: NodeJS.Timeout | undefined;
  private shown = false;

  constructor(private readonly options: ProgressOptions = {}) {
    this.stream = options.stream ?? process.stderr;
    this.tty = Boolean(this.stream.isTTY);
    this.now = options.now ?? Date.now;
    this.started = this.now();
  }

  start(): this {
    const interval = this.options.intervalMs ?? (this.tty ? 500 : 10_000);
    this.timer = setInterval(() => this.print(), interval);
    this.timer.unref();
    return this;
  }

  /** Stops the timer and clears the terminal line, so the summary that follows starts clean. */
  stop(): void {
    clearInterval(this.timer);
    if (this.tty && this.shown) this.stream.write('\r\x1b[K');
  }

  /** The progress line, without decoration: `rate: 1,200,000 rows, 48.0 MB of 120.0 MB (40%), 12.5 MB/s, ETA 6 s`. */
  line(): string {
    const seconds = Math.max((this.now() - this.started) / 1000, 0.001);
    const mb = this.bytes / 1e6;
    const rate = mb / seconds;
    const parts = [`rate: ${this.rows.toLocaleString('en-US')} rows`];
    const total = this.options.totalBytes;
    if (total && total > 0) {
      const done = Math.min(this.bytes / total, 1);
      parts.push(`${mb.toFixed(1)} MB of ${(total / 1e6).toFixed(1)} MB (${Math.floor(done * 100)}%)`);
      parts.push(`${rate.toFixed(1)} MB/s`);
      if (this.bytes > 0) parts.push(`ETA ${formatDuration(((total - this.bytes) / this.bytes) * seconds)}`);
    } else {
      parts.push(`${mb.toFixed(1)} MB`, `${rate.toFixed(1)} MB/s`);
    }
    return parts.join(', ');
  }

  print(): void {
    this.shown = true;
    this.stream.write(this.tty ? `\r\x1b[K${this.line()}` : `${this.line()}\n`);
  }
}

function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${s % 60} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}
