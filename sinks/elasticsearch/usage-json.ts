import type avro from 'avsc';
import { AvroTypes, type UsageRecord } from '../../schemas';
import { SINGLE_OBJECT_HEADER_BYTES, type TopicSchema } from '../../schemas/single-object';
import { EXACT_SUM_FIELDS } from '../../schemas/money';
import { derivedFieldsJson } from './indices';

/**
 * The usage document's JSON written straight from a rated record's Avro bytes.
 *
 * Why: the sink turns every rated record into `usageDocumentJson(record)`. Decoding it first builds
 * a 73-field object and about 60 strings per record that JSON.stringify then walks and throws away:
 * decoding, stringifying and the garbage collection after them were over half of the sink's CPU
 * (`BENCH_CPU_PROF=... npm run bench -- sink`). Here each field goes from the Avro bytes to the
 * JSON bytes once: a string of printable ASCII without `"` or `\` (almost every value: ids, codes,
 * dates, decimals) is copied as it is; anything else is decoded and written by JSON.stringify, as
 * before. Only the few fields the sink needs as values (the document id and index, the derived
 * fields' inputs) are decoded.
 *
 * The result is byte for byte `Buffer.from(usageDocumentJson(decoded record))`
 * (test/unit/sinks/elasticsearch/usage-json.test.ts checks it on generated records and on every kind of string).
 * Anything this reader is not sure of (a value written with an earlier schema, or bytes that do not
 * read cleanly) returns undefined, and the sink decodes the record the general way, which also
 * makes the error for a record that does not decode.
 */

export interface UsageDocumentBytes {
  /** UTF-8 JSON of the usage document. */
  json: Buffer;
  recordId: string;
  billingPeriod: string;
}

type FieldKind = 'string' | 'nullable-string' | 'string-map' | 'long';

interface FieldPlan {
  kind: FieldKind;
  /** `{"Name":` for the first field, `,"Name":` after it. */
  prefix: Buffer;
  /** Where the decoded value goes, for the fields the sink needs as values. */
  keep: keyof Kept | undefined;
}

type Kept = Pick<UsageRecord, 'x_RecordId' | 'x_BillingPeriod' | 'x_Scope' | 'x_Revision' | 'Tags'> &
  Partial<Pick<UsageRecord, (typeof EXACT_SUM_FIELDS)[number]>>;

const KEPT = new Set<string>([
  'x_RecordId',
  'x_BillingPeriod',
  'x_Scope',
  'x_Revision',
  'Tags',
  ...EXACT_SUM_FIELDS,
]);

function kindOf(type: avro.Type): FieldKind | undefined {
  const name = type.typeName;
  if (name === 'string') return 'string';
  if (name === 'long') return 'long';
  if (name === 'map' && (type as avro.types.MapType).valuesType.typeName === 'string') return 'string-map';
  if (name === 'union:unwrapped') {
    const branches = (type as avro.types.UnwrappedUnionType).types.map((t) => t.typeName);
    if (branches.length === 2 && branches[0] === 'null' && branches[1] === 'string') return 'nullable-string';
  }
  return undefined;
}

/** One plan per field of the current schema, or undefined if it has a field this reader does not know. */
function compile(schema: TopicSchema): FieldPlan[] | undefined {
  const fields = (schema.type as avro.types.RecordType).fields;
  const plan: FieldPlan[] = [];
  for (const [i, field] of fields.entries()) {
    const kind = kindOf(field.type);
    if (!kind) return undefined;
    plan.push({
      kind,
      prefix: Buffer.from(`${i === 0 ? '{' : ','}${JSON.stringify(field.name)}:`),
      keep: KEPT.has(field.name) ? (field.name as keyof Kept) : undefined,
    });
  }
  return plan;
}

const PLAN = compile(AvroTypes.usageRecord);
const NULL = Buffer.from('null');
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/**
 * Reads the record's values. Anything it leaves to avsc (a value past 2^42, a length running past
 * the end, a union branch that does not exist) sets `failed`, and reads then return 0, which ends
 * every loop; the caller checks `failed` after each field.
 */
class Reader {
  pos = SINGLE_OBJECT_HEADER_BYTES;
  failed = false;
  constructor(readonly buf: Buffer) {}

  /** A zigzag varint up to 2^42, which covers every length and line number. */
  long(): number {
    const buf = this.buf;
    let value = 0;
    let scale = 1;
    for (let shift = 0; shift < 42 && this.pos < buf.length; shift += 7) {
      const byte = buf[this.pos++];
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) return value % 2 === 0 ? value / 2 : -(value + 1) / 2;
      scale *= 128;
    }
    return this.fail();
  }

  /** Reads past the next string's bytes and returns its length (its bytes end at `pos`). */
  string(): number {
    const length = this.long();
    if (length < 0 || this.pos + length > this.buf.length) return this.fail();
    this.pos += length;
    return length;
  }

  fail(): 0 {
    this.failed = true;
    this.pos = this.buf.length;
    return 0;
  }
}

// Bytes are copied one at a time: for the few bytes of a field name or a value that is cheaper
// than a native Buffer#copy call.
class Output {
  buf = Buffer.allocUnsafe(16 * 1024);
  pos = 0;

  reserve(bytes: number): void {
    if (this.pos + bytes <= this.buf.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + bytes));
    this.buf.copy(grown, 0, 0, this.pos);
    this.buf = grown;
  }

  /** A field's prefix or `null`: a few bytes each. */
  bytes(source: Buffer): void {
    this.reserve(source.length);
    const buf = this.buf;
    let pos = this.pos;
    for (let i = 0; i < source.length; i++) buf[pos++] = source[i];
    this.pos = pos;
  }

  text(text: string): void {
    this.reserve(text.length * 3);
    this.pos += this.buf.write(text, this.pos, 'utf8');
  }

  /**
   * The JSON string of source[start, end), as JSON.stringify writes the text avsc decodes from it.
   * Printable ASCII without `"` or `\` stands in JSON as it is, between quotes; anything else
   * (escapes, control characters, any non-ASCII byte) goes through JSON.stringify.
   */
  string(source: Buffer, start: number, end: number): void {
    this.reserve(end - start + 2);
    const buf = this.buf;
    let pos = this.pos;
    buf[pos++] = QUOTE;
    for (let i = start; i < end; i++) {
      const c = source[i];
      if (c < 0x20 || c > 0x7e || c === QUOTE || c === BACKSLASH) {
        this.text(JSON.stringify(source.toString('utf8', start, end)));
        return;
      }
      buf[pos++] = c;
    }
    buf[pos++] = QUOTE;
    this.pos = pos;
  }
}

// One output buffer, reused: the sink builds documents one at a time and copies each out.
const out = new Output();

/** The usage document for a framed rated record in the current schema, or undefined (see above). */
export function usageDocumentFromAvro(value: Buffer): UsageDocumentBytes | undefined {
  if (!PLAN || !AvroTypes.usageRecord.isCurrent(value)) return undefined;
  const input = new Reader(value);
  const kept: Partial<Kept> = {};
  out.pos = 0;
  for (const field of PLAN) {
    out.bytes(field.prefix);
    let decoded: string | null | Record<string, string> = null;
    if (field.kind === 'long') {
      // avsc refuses a long past 2^53; this reader stops at 2^42 and leaves the rest to it.
      const line = input.long();
      if (input.failed) return undefined;
      out.text(String(line));
      continue;
    } else if (field.kind === 'string-map') {
      // As avsc reads a map (blocks of entries; a negative count is followed by the block's
      // size) into a plain object, which JSON.stringify then writes: key order, repeated keys and
      // special keys come out as they do from the decoded record.
      const map: Record<string, string> = {};
      for (let count = input.long(); count !== 0; count = input.long()) {
        if (count < 0) {
          count = -count;
          input.long();
        }
        for (let i = 0; i < count && !input.failed; i++) {
          const keyLength = input.string();
          const key = value.toString('utf8', input.pos - keyLength, input.pos);
          const valueLength = input.string();
          map[key] = value.toString('utf8', input.pos - valueLength, input.pos);
        }
      }
      out.text(JSON.stringify(map));
      decoded = map;
    } else {
      // A nullable string is the union branch (0: null, 1: the string), then the string.
      const branch = field.kind === 'nullable-string' ? input.long() : 1;
      if (branch === 0) {
        out.bytes(NULL);
        decoded = null;
      } else if (branch === 1) {
        const length = input.string();
        out.string(value, input.pos - length, input.pos);
        decoded = field.keep ? value.toString('utf8', input.pos - length, input.pos) : null;
      } else {
        input.fail();
      }
    }
    if (input.failed) return undefined;
    if (field.keep) (kept as Record<string, unknown>)[field.keep] = decoded;
  }

  // avsc refuses bytes left over after the record; so does this reader.
  if (input.pos !== value.length) return undefined;
  const record = kept as Kept;
  // The record's object ends with `}`: the derived fields continue it (as usageDocumentJson does).
  out.text(derivedFieldsJson(record).replace('{', ','));
  return {
    json: Buffer.from(out.buf.subarray(0, out.pos)),
    recordId: record.x_RecordId,
    billingPeriod: record.x_BillingPeriod,
  };
}
