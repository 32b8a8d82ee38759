import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Readable, Transform, pipeline as pipelineCb } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { trackTemp, untrackTemp } from '../../runtime/temp-files';
import yauzl from 'yauzl';
import { ErrorCodes, isDiskFull, PermanentError, TransientError } from '../../runtime/errors';

const GZIP_MAGIC = [0x1f, 0x8b];
// Local file header, or the end-of-central-directory record of an empty archive.
const ZIP_MAGICS = [
  [0x50, 0x4b, 0x03, 0x04],
  [0x50, 0x4b, 0x05, 0x06],
];

function startsWith(head: Buffer, magic: number[]): boolean {
  return head.length >= magic.length && magic.every((b, i) => head[i] === b);
}

function isZlibError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('Z_');
}

/**
 * Re-emit `source` as a byte stream. Errors for which `map` returns an error are replaced by it;
 * others (e.g. a network reset from the object store) pass through unchanged so their
 * retryability is kept.
 */
function withMappedErrors(source: Readable, map: (err: unknown) => Error | undefined): Readable {
  async function* gen(): AsyncGenerator<Buffer> {
    try {
      for await (const chunk of source) yield chunk as Buffer;
    } catch (err) {
      throw map(err) ?? err;
    }
  }
  return Readable.from(gen(), { objectMode: false });
}

/**
 * Reads the first bytes of `stream` without losing them: returns the head and a stream that replays
 * the head followed by the rest of the source.
 */
async function peek(stream: Readable, bytes: number): Promise<{ head: Buffer; replay: Readable }> {
  const it = stream[Symbol.asyncIterator]() as AsyncIterator<Buffer | string>;
  const chunks: Buffer[] = [];
  let length = 0;
  let done = false;
  while (length < bytes) {
    const r = await it.next();
    if (r.done) {
      done = true;
      break;
    }
    const b = typeof r.value === 'string' ? Buffer.from(r.value) : r.value;
    chunks.push(b);
    length += b.length;
  }
  async function* replay(): AsyncGenerator<Buffer> {
    let finished = done;
    try {
      for (const c of chunks) yield c;
      while (!finished) {
        const r = await it.next();
        if (r.done) {
          finished = true;
          break;
        }
        yield typeof r.value === 'string' ? Buffer.from(r.value) : r.value;
      }
    } finally {
      // The consumer stopped early: release the source (an HTTP body would otherwise stay open).
      if (!finished) await it.return?.();
    }
  }
  return { head: Buffer.concat(chunks), replay: Readable.from(replay(), { objectMode: false }) };
}

function gunzip(source: Readable, objectName: string): Readable {
  // 256 KiB output chunks instead of 16 KiB: a sixteenth of the per-chunk stream overhead for the parser.
  const z = createGunzip({ chunkSize: 256 * 1024 });
  // pipeline destroys `z` with the source's error (so it surfaces through the iteration below) and
  // destroys the source when the consumer stops early.
  pipelineCb(source, z, () => undefined);
  // Node's gunzip already handles multi-member files (concatenated gzip), which some writers emit.
  return withMappedErrors(z, (err) =>
    isZlibError(err)
      ? new PermanentError(
          ErrorCodes.UNREADABLE_OBJECT,
          `${objectName}: truncated or corrupt gzip (${(err as Error).message})`,
          { cause: err, details: { object: objectName } },
        )
      : undefined,
  );
}

function unreadableZip(objectName: string, message: string, cause?: unknown): PermanentError {
  return new PermanentError(ErrorCodes.UNREADABLE_OBJECT, `${objectName}: ${message}`, {
    cause,
    details: { object: objectName },
  });
}

/**
 * A zip keeps its directory at the end, so yauzl needs random access: the object is spooled to a
 * temp file (removed when the returned stream closes). A legacy CUR `.csv.zip` holds exactly one
 * CSV; more than one data entry is refused rather than silently reading only the first.
 */
async function unzipSingleEntry(source: Readable, objectName: string, spoolDir: string): Promise<Readable> {
  const dir = await mkdtemp(join(spoolDir, 'meterflow-zip-'));
  trackTemp(dir); // removed at exit too, if the process stops mid-object
  const cleanup = async (): Promise<void> => {
    untrackTemp(dir);
    await rm(dir, { recursive: true, force: true }).catch(() => undefined);
  };
  try {
    const file = join(dir, 'object.zip');
    await pipeline(source, createWriteStream(file)).catch((err: unknown) => {
      // classifyError would make it transient too; this says which folder is full and what to do.
      if (!isDiskFull(err)) throw err;
      throw new TransientError(
        ErrorCodes.LOCAL_DISK_FULL,
        `${objectName}: no space left in ${dirname(dir)} to spool the zip (free space there or set collector.spool_dir to a larger disk; the revision resumes on the next pass)`,
        { cause: err, details: { object: objectName, spool: dir } },
      );
    });
    const zip = await new Promise<yauzl.ZipFile>((resolve, reject) =>
      yauzl.open(file, { lazyEntries: true, autoClose: false }, (err, z) =>
        err || !z ? reject(unreadableZip(objectName, `corrupt zip (${err?.message})`, err)) : resolve(z),
      ),
    );
    const entries = await new Promise<yauzl.Entry[]>((resolve, reject) => {
      const found: yauzl.Entry[] = [];
      zip.on('entry', (entry: yauzl.Entry) => {
        const name = entry.fileName;
        // Directories and macOS resource forks are not data.
        if (!name.endsWith('/') && !name.startsWith('__MACOSX/')) found.push(entry);
        zip.readEntry();
      });
      zip.on('end', () => resolve(found));
      zip.on('error', (err: Error) => {
        zip.close();
        reject(unreadableZip(objectName, `corrupt zip (${err.message})`, err));
      });
      zip.readEntry();
    });
    if (entries.length !== 1) {
      zip.close();
      throw unreadableZip(
        objectName,
        `zip must hold exactly one data file, found ${entries.length}` +
          (entries.length ? ` (${entries.map((e) => e.fileName).join(', ')})` : ''),
      );
    }
    const entryStream = await new Promise<Readable>((resolve, reject) =>
      zip.openReadStream(entries[0], (err, s) =>
        err || !s
          ? reject(unreadableZip(objectName, `corrupt zip entry (${err?.message})`, err))
          : resolve(s),
      ),
    );
    // The entry is read from a local temp file, so every error here is about the archive itself.
    const out = withMappedErrors(entryStream, (err) =>
      unreadableZip(objectName, `truncated or corrupt zip entry (${(err as Error).message})`, err),
    );
    out.on('close', () => {
      zip.close();
      void cleanup();
    });
    return out;
  } catch (err) {
    // Removed before the error is reported: a full disk gets its space back at once.
    await cleanup();
    throw err;
  }
}

/**
 * Returns the decompressed bytes of an export object. Compression is detected from the magic bytes,
 * not the object name: providers name files inconsistently (a `.csv` can be gzip, an Azure `.csv.gz`
 * can be plain when compression is off). Anything that is neither gzip nor zip passes through
 * unchanged (plain CSV / JSON lines, Parquet, Avro).
 *
 * A truncated or corrupt gzip is reported as PermanentError(UNREADABLE_OBJECT) from the iteration of
 * the returned stream: gunzip only notices the truncation at the end, after it has emitted most of
 * the rows, so callers must treat rows already read as incomplete.
 */
export async function openDecoded(
  stream: Readable,
  objectName: string,
  limits: DecodeOptions = {},
): Promise<Readable> {
  const { head, replay } = await peek(stream, 4);
  const gz = startsWith(head, GZIP_MAGIC);
  if (!gz && !ZIP_MAGICS.some((m) => startsWith(head, m))) return replay;
  const ratio = limits.maxExpansionRatio ?? 0;
  const meter = ratio > 0 ? new ExpansionMeter(objectName, ratio) : undefined;
  const input = meter ? meter.countIn(replay) : replay;
  const decoded = gz
    ? gunzip(input, objectName)
    : await unzipSingleEntry(input, objectName, limits.spoolDir ?? tmpdir());
  return meter ? meter.countOut(decoded) : decoded;
}

export interface DecodeOptions {
  /** Most decompressed bytes per compressed byte (collector.max_expansion_ratio); 0 or absent: no cap. */
  maxExpansionRatio?: number;
  /** Where zip objects are spooled (collector.spool_dir); default the system temp folder. */
  spoolDir?: string;
}

/** CSV exports compress 5-40 times; below this much output, no ratio is judged (small files vary). */
const EXPANSION_FLOOR_BYTES = 64 * 1024 * 1024;

export const MAX_EXPANSION_RATIO_DEFAULT = 250;

/**
 * Fails an object once its decompressed bytes outgrow `ratio` times the compressed bytes read so
 * far: a decompression bomb (gzip reaches about 1,000:1 on repeated bytes) would otherwise hold a
 * collector for hours and every export of that cloud behind it. Memory is bounded anyway (records
 * are capped by max_record_bytes); this bounds the time.
 */
class ExpansionMeter {
  private inBytes = 0;
  private outBytes = 0;

  constructor(
    private readonly objectName: string,
    private readonly ratio: number,
  ) {}

  /** The compressed bytes, counted on their way to the decoder. */
  countIn(compressed: Readable): Readable {
    const counter = new Transform({
      transform: (chunk: Buffer, _encoding, done) => {
        this.inBytes += chunk.length;
        done(null, chunk);
      },
    });
    pipelineCb(compressed, counter, () => undefined);
    return counter;
  }

  /** The decompressed bytes, failed once they outgrow the ratio. */
  countOut(decoded: Readable): Readable {
    const counter = new Transform({
      transform: (chunk: Buffer, _encoding, done) => {
        this.outBytes += chunk.length;
        if (this.outBytes > EXPANSION_FLOOR_BYTES && this.outBytes > this.ratio * this.inBytes) {
          done(
            new PermanentError(
              ErrorCodes.UNREADABLE_OBJECT,
              `${this.objectName}: decompresses to more than ${this.ratio} times its compressed size (${this.outBytes} bytes from ${this.inBytes}; collector.max_expansion_ratio): a decompression bomb or a broken object`,
            ),
          );
          return;
        }
        done(null, chunk);
      },
    });
    // pipeline carries an error of the decoder (a truncated gzip) to the stream the caller reads.
    pipelineCb(decoded, counter, () => undefined);
    return counter;
  }
}
