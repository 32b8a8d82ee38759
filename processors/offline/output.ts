import fs, { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { finished } from 'node:stream/promises';
import { ErrorCodes, PermanentError } from '../../runtime/errors';
import { trackTemp, untrackTemp } from '../../runtime/temp-files';
import { AvroTypes } from '../../schemas';
import type { UsageRecord } from '../../schemas/types.generated';

/*
 * The output side of `meterflow rate`: one rated UsageRecord per NDJSON line, fields in the order
 * of schemas/usage-record.avsc, written through a buffered writer that honours backpressure, to a
 * file that only appears under its name once complete.
 */

/** UsageRecord field names in the order of schemas/usage-record.avsc (the rated topic's schema). */
export const USAGE_RECORD_FIELDS: readonly string[] = (
  AvroTypes.usageRecord.type as unknown as { fields: Array<{ name: string }> }
).fields.map((f) => f.name);

// `{"BillingAccountId":`, `,"BillingAccountName":`, ... : the fixed part of every line, built once.
const KEY_PREFIXES = USAGE_RECORD_FIELDS.map((f, i) => `${i === 0 ? '{' : ','}${JSON.stringify(f)}:`);

/** One NDJSON line with the record's fields in schema order (absent fields as null). */
export function usageRecordLine(record: UsageRecord): string {
  return validUsageRecordLine(record) ?? fieldByFieldLine(record);
}

function fieldByFieldLine(record: UsageRecord): string {
  const source = record as unknown as Record<string, unknown>;
  let line = '';
  for (let i = 0; i < USAGE_RECORD_FIELDS.length; i++) {
    const v = source[USAGE_RECORD_FIELDS[i]];
    line += KEY_PREFIXES[i] + (v === undefined || v === null ? 'null' : JSON.stringify(v));
  }
  return `${line}}\n`;
}

/*
 * The fast path. A record built by the pipeline already holds exactly the schema's fields, in the
 * schema's order (the mappers' literals, then normalize and rating add the x_ fields in order), so
 * one JSON.stringify of the whole object gives the same text as the field-by-field loop, in a
 * fraction of the time. The same pass checks every value against its field's Avro type, which is
 * what AvroTypes.usageRecord.isValid does per row.
 */

// The Avro field types the fast path checks.
const STRING = 0;
const NULLABLE_STRING = 1;
const LONG = 2;
const STRING_MAP = 3;

/** Per field, the Avro type the fast path can check; null when the schema has a type it does not know. */
const FIELD_KINDS: readonly number[] | null = (() => {
  interface AvroType {
    typeName: string;
    types?: AvroType[];
    valuesType?: AvroType;
  }
  const kinds: number[] = [];
  const fields = (AvroTypes.usageRecord.type as unknown as { fields: Array<{ type: AvroType }> }).fields;
  for (const { type } of fields) {
    const names = type.types?.map((t) => t.typeName).join(',');
    if (type.typeName === 'string') kinds.push(STRING);
    else if (type.typeName === 'union:unwrapped' && names === 'null,string') kinds.push(NULLABLE_STRING);
    else if (type.typeName === 'long') kinds.push(LONG);
    else if (type.typeName === 'map' && type.valuesType?.typeName === 'string') kinds.push(STRING_MAP);
    else return null;
  }
  return kinds;
})();

// avsc's own bound for a long held in a JS number (isSafeLong in avsc/lib/types.js).
const LONG_BOUND = 9007199254740990;

function isStringMap(v: unknown): boolean {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  // A toJSON would make JSON.stringify write something else than the map's entries.
  if ((v as { toJSON?: unknown }).toJSON !== undefined) return false;
  const map = v as Record<string, unknown>;
  for (const k of Object.keys(map)) if (typeof map[k] !== 'string') return false;
  return true;
}

/**
 * The NDJSON line of a record that certainly fits schemas/usage-record.avsc, or undefined when
 * that is not certain (then ask AvroTypes.usageRecord.isValid and use usageRecordLine). A line is
 * returned only when the record's enumerable keys are exactly the schema's fields in schema order
 * and every value has its field's Avro type: then the record is valid, and JSON.stringify(record)
 * is the text the field-by-field loop writes.
 */
export function validUsageRecordLine(record: UsageRecord): string | undefined {
  const kinds = FIELD_KINDS;
  if (kinds === null || typeof record !== 'object' || record === null) return undefined;
  const source = record as unknown as Record<string, unknown>;
  if (source.toJSON !== undefined) return undefined;
  const n = USAGE_RECORD_FIELDS.length;
  let i = 0;
  for (const key in source) {
    if (i >= n || key !== USAGE_RECORD_FIELDS[i]) return undefined;
    const v = source[key];
    switch (kinds[i]) {
      case STRING:
        if (typeof v !== 'string') return undefined;
        break;
      case NULLABLE_STRING:
        if (v !== null && typeof v !== 'string') return undefined;
        break;
      case LONG:
        if (typeof v !== 'number' || v % 1 !== 0 || v < -LONG_BOUND || v > LONG_BOUND) return undefined;
        break;
      case STRING_MAP:
        if (!isStringMap(v)) return undefined;
        break;
    }
    i++;
  }
  if (i !== n) return undefined;
  return `${JSON.stringify(source)}\n`;
}

// ---------------------------------------------------------------------------------------------
// Writers

/** Bytes gathered before they are handed to the stream (fewer, larger writes cost less CPU). */
const WRITE_CHUNK = 256 * 1024;
/** Size of a chunk buffer: a chunk is sealed at WRITE_CHUNK, the rest is room for the last line. */
const CHUNK_ROOM = WRITE_CHUNK + 64 * 1024;
/** Chunk buffers kept for reuse (writes in flight at once are one or two). */
const FREE_LIMIT = 4;

/**
 * Buffered line writer that honours backpressure: a full stream is awaited ('drain'), never
 * overfilled. Lines are encoded (UTF-8) straight into a chunk buffer, which goes to the stream as
 * one write once it holds WRITE_CHUNK bytes.
 */
export class LineWriter {
  private chunk: Buffer;
  private used = 0;
  /** Sealed chunks and their filled length, not yet written (several only for a line longer than a chunk). */
  private ready: Array<{ buffer: Buffer; length: number }> = [];
  /** Chunk buffers the stream is done with (only when `reuseBuffers`). */
  private readonly free: Buffer[] = [];
  private failure: Error | undefined;

  /**
   * `reuseBuffers`: the stream is done with a chunk once its write callback ran, so the buffer can
   * take new lines. True for Node's own file and stdout streams; not for a caller's Writable, which
   * may keep the chunks it is given.
   */
  constructor(
    readonly stream: NodeJS.WritableStream,
    private readonly reuseBuffers = false,
  ) {
    this.chunk = Buffer.allocUnsafe(CHUNK_ROOM);
    stream.on('error', (err: Error) => {
      this.failure ??= err;
    });
  }

  /**
   * Adds a line without waiting. Returns true when enough is gathered that flush() should be
   * awaited before the next line; a caller that ignores it still loses nothing, it only buffers more.
   */
  push(line: string): boolean {
    // A UTF-16 code unit takes at most 3 bytes of UTF-8 (a surrogate pair, 2 units, takes 4).
    const room = line.length * 3;
    if (room > this.chunk.length - this.used) {
      this.seal();
      if (room > this.chunk.length) this.chunk = Buffer.allocUnsafe(room);
    }
    this.used += this.chunk.write(line, this.used);
    return this.used >= WRITE_CHUNK || this.ready.length > 0;
  }

  async write(line: string): Promise<void> {
    if (this.push(line)) await this.flush();
  }

  async flush(): Promise<void> {
    if (this.failure) throw this.failure;
    this.seal();
    const ready = this.ready;
    if (ready.length === 0) return;
    this.ready = [];
    let ok: boolean;
    if (ready.length === 1) {
      const { buffer, length } = ready[0];
      const data = buffer.subarray(0, length);
      ok = this.reuseBuffers
        ? this.stream.write(data, (err?: Error | null) => {
            if (!err) this.recycle(buffer);
          })
        : this.stream.write(data);
    } else {
      // Copied into one buffer: the chunks are free at once.
      ok = this.stream.write(Buffer.concat(ready.map((r) => r.buffer.subarray(0, r.length))));
      if (this.reuseBuffers) for (const r of ready) this.recycle(r.buffer);
    }
    if (!ok) await this.drained();
  }

  /** Moves the filled chunk to `ready` and starts a new chunk. */
  private seal(): void {
    if (this.used === 0) return;
    this.ready.push({ buffer: this.chunk, length: this.used });
    // The stream keeps the sealed bytes until written: the next lines go to another buffer.
    this.chunk = this.free.pop() ?? Buffer.allocUnsafe(CHUNK_ROOM);
    this.used = 0;
  }

  private recycle(buffer: Buffer): void {
    if (buffer.length === CHUNK_ROOM && this.free.length < FREE_LIMIT) this.free.push(buffer);
  }

  private drained(): Promise<void> {
    return new Promise((resolveDrain, reject) => {
      const s = this.stream;
      const done = (err?: Error): void => {
        s.off('drain', onDrain);
        s.off('error', onError);
        s.off('close', onClose);
        if (err) reject(err);
        else resolveDrain();
      };
      const onDrain = (): void => done();
      const onError = (err: Error): void => done(err);
      const onClose = (): void =>
        done(this.failure ?? new Error('output closed before every line was written'));
      s.on('drain', onDrain);
      s.on('error', onError);
      s.on('close', onClose);
    });
  }
}

export interface FileTarget {
  final: string;
  temp: string;
  writer: LineWriter;
}

/**
 * The output file of `meterflow rate`, checked before any row is read: a folder, or a path whose
 * folder is missing or not writable, fails at once naming it. A regular file is written beside the
 * target and renamed at the end, so a failed run never leaves a file that looks complete. Anything
 * else that exists (a FIFO, /dev/null, a terminal) is written directly: renaming over it would
 * replace the device node itself. Write errors (a full disk) name the file.
 */
export function fileTarget(path: string): FileTarget {
  let existing: fs.Stats | undefined;
  try {
    existing = fs.statSync(path);
  } catch {
    existing = undefined;
  }
  if (existing?.isDirectory()) {
    throw new PermanentError(
      ErrorCodes.CONFIG_INVALID,
      `--out ${path} is a folder; name a file (or - for stdout)`,
    );
  }
  const direct = existing !== undefined && !existing.isFile();
  const temp = direct ? path : `${path}.partial-${process.pid}`;
  let fd: number;
  try {
    fd = fs.openSync(temp, 'w');
  } catch (err) {
    throw new PermanentError(ErrorCodes.CONFIG_INVALID, `cannot write ${temp}: ${(err as Error).message}`);
  }
  if (!direct) trackTemp(temp);
  const stream = createWriteStream(temp, { fd });
  // First listener: the writer's own (added later) then reports an error that names the file.
  stream.on('error', (err) => {
    if (!err.message.includes(path)) err.message = `${path}: ${err.message}`;
  });
  return { final: path, temp, writer: new LineWriter(stream, true) };
}

export async function closeTarget(t: FileTarget): Promise<void> {
  await t.writer.flush();
  const s = t.writer.stream as NodeJS.WritableStream & { end(): void };
  s.end();
  await finished(s as unknown as NodeJS.WritableStream);
  if (t.temp !== t.final) await rename(t.temp, t.final);
  untrackTemp(t.temp);
}

export async function discardTarget(t: FileTarget): Promise<void> {
  const s = t.writer.stream as unknown as { destroy(): void };
  s.destroy();
  if (t.temp !== t.final) await rm(t.temp, { force: true });
  untrackTemp(t.temp);
}
