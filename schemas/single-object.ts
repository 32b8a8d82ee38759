import avro from 'avsc';
import { ErrorCodes, PermanentError } from '../runtime/errors';

/*
 * Every topic value is framed in Avro's single-object encoding (Avro specification, "Single object
 * encoding"): the two bytes C3 01, the writer schema's 8-byte CRC-64-AVRO fingerprint (little
 * endian, over the schema's Parsing Canonical Form), then the Avro binary of the value. So every
 * message names the schema it was written with, and a reader resolves writer -> reader with
 * Avro's schema-resolution rules instead of decoding old bytes as if they were its own schema.
 *
 * The schemas a reader knows are the ones shipped in this package: the current `.avsc` of each
 * topic and every released version before it under `history/<schema>/<n>.avsc`. A message whose
 * fingerprint is unknown (written by a newer release) fails with an UnknownSchemaError, which the
 * stages dead-letter with reason `unknown_schema` instead of misreading it; upgrade readers before
 * writers (the rollout order Confluent's BACKWARD mode also asks for), then `meterflow replay`
 * re-drives those letters. README.md ("Evolving a schema") says how a Kafka Connect, ksqlDB or
 * Flink user reads these topics.
 *
 * Values written before this framing (bare Avro binary, no header) are still read, as version 1 of
 * their schema. A bare value can never be taken for a framed one: every schema here starts with a
 * string, an enum, a union or (a batch) an array block count, all zig-zag varints that are even
 * when valid, and C3 is odd.
 */

const MAGIC_0 = 0xc3;
const MAGIC_1 = 0x01;
/** Bytes before the Avro binary: magic (2) and fingerprint (8). */
export const SINGLE_OBJECT_HEADER_BYTES = 10;

const EMPTY = 0xc15d213aa4d7a795n;
const MASK = 0xffffffffffffffffn;
const TABLE: bigint[] = Array.from({ length: 256 }, (_, i) => {
  let fp = BigInt(i);
  for (let j = 0; j < 8; j++) fp = (fp >> 1n) ^ (EMPTY & (-(fp & 1n) & MASK));
  return fp;
});

/** The Avro specification's CRC-64-AVRO (Rabin) fingerprint of a text. */
export function crc64Avro(text: string): bigint {
  let fp = EMPTY;
  for (const byte of Buffer.from(text, 'utf8')) fp = (fp >> 8n) ^ TABLE[Number((fp ^ BigInt(byte)) & 0xffn)];
  return fp;
}

/** The 8 fingerprint bytes of a type, as the single-object header carries them (little endian). */
export function fingerprintOf(type: avro.Type): Buffer {
  // avsc's schema() with no options is the Parsing Canonical Form (full names, no doc, default or
  // logical types, attributes in canonical order).
  const buf = Buffer.alloc(8);
  buf.writeBigUInt64LE(crc64Avro(JSON.stringify(type.schema())));
  return buf;
}

/** A value whose header names a schema this release does not know. */
export class UnknownSchemaError extends PermanentError {
  constructor(
    readonly schema: string,
    readonly fingerprint: string,
  ) {
    super(
      ErrorCodes.UNKNOWN_SCHEMA,
      `${schema}: the value was written with schema fingerprint ${fingerprint}, which this release does not know (a newer writer?)`,
      { details: { schema, fingerprint } },
    );
    this.name = 'UnknownSchemaError';
  }
}

/**
 * One topic schema: the current type, which writers use and readers decode into, and the released
 * versions before it, which readers resolve from.
 */
export class TopicSchema {
  readonly fingerprint: Buffer;
  private readonly header: Buffer;
  /** Resolvers from each earlier version, by fingerprint hex. */
  private readonly resolvers = new Map<string, avro.Resolver>();
  /** How bare (unframed) values are read: written by the first version, before framing. */
  private readonly bare: avro.Resolver | undefined;
  /** Header, then room for one encoded value (see toBuffer). */
  private scratch: Buffer;

  constructor(
    readonly name: string,
    readonly type: avro.Type,
    private readonly previous: readonly avro.Type[] = [],
  ) {
    this.fingerprint = fingerprintOf(type);
    this.header = Buffer.concat([Buffer.from([MAGIC_0, MAGIC_1]), this.fingerprint]);
    this.scratch = Buffer.alloc(4096);
    this.header.copy(this.scratch, 0);
    for (const writer of previous)
      this.resolvers.set(fingerprintOf(writer).toString('hex'), type.createResolver(writer));
    this.bare = previous.length > 0 ? type.createResolver(previous[0]) : undefined;
  }

  /** The fingerprints this reader can decode, current first. */
  get knownFingerprints(): string[] {
    return [this.fingerprint.toString('hex'), ...this.resolvers.keys()];
  }

  /**
   * The framed encoding of a value in the current schema. The value is encoded after the header in
   * a scratch buffer kept between calls and copied out once: one allocation per value, as avsc's
   * own toBuffer, instead of a second for prepending the header (the price stage frames every
   * rated record).
   */
  toBuffer(value: unknown): Buffer {
    for (;;) {
      // avsc's encode returns the end position, or minus the bytes missing when the buffer is short.
      const end = this.type.encode(value, this.scratch, SINGLE_OBJECT_HEADER_BYTES);
      if (end >= 0) return Buffer.from(this.scratch.subarray(0, end));
      this.scratch = Buffer.allocUnsafe(Math.max(this.scratch.length * 2, this.scratch.length - end));
      this.header.copy(this.scratch, 0);
    }
  }

  /** Frames Avro binary that is already encoded in the current schema (a batch built in place). */
  frame(body: Buffer): Buffer {
    return Buffer.concat([this.header, body]);
  }

  /** Writes the header at `buffer[0..10)`, for writers that encode the body in place after it. */
  writeHeader(buffer: Buffer): void {
    this.header.copy(buffer, 0);
  }

  /**
   * A reader of part of each value: `reader` is the current type with fields left out (of a record,
   * or of the records in an array). It decodes every version this schema reads, as fromBuffer does,
   * but avsc skips the left-out fields without building their values: reading three fields of a
   * 73-field record costs a fraction of decoding it.
   */
  projection(reader: avro.Type): (buffer: Buffer) => unknown {
    const current = reader.createResolver(this.type);
    const earlier = new Map(
      this.previous.map((writer) => [fingerprintOf(writer).toString('hex'), reader.createResolver(writer)]),
    );
    const bare = this.previous.length > 0 ? reader.createResolver(this.previous[0]) : current;
    return (buffer) => this.decodeWith(buffer, reader, current, earlier, bare);
  }

  /** Whether the value is framed with the current schema's fingerprint. */
  isCurrent(buffer: Buffer): boolean {
    return isFramed(buffer) && buffer.compare(this.fingerprint, 0, 8, 2, SINGLE_OBJECT_HEADER_BYTES) === 0;
  }

  /** Decodes a framed or bare value into the current schema; throws when it does not decode. */
  fromBuffer(buffer: Buffer): unknown {
    return this.decodeWith(buffer, this.type, undefined, this.resolvers, this.bare);
  }

  /**
   * Reads `buffer` into `reader` with the resolver its writer needs: `bare` for an unframed value,
   * `current` for the current fingerprint, the one `earlier` holds for an older fingerprint.
   */
  private decodeWith(
    buffer: Buffer,
    reader: avro.Type,
    current: avro.Resolver | undefined,
    earlier: ReadonlyMap<string, avro.Resolver>,
    bare: avro.Resolver | undefined,
  ): unknown {
    if (!isFramed(buffer)) return reader.fromBuffer(buffer, bare);
    const body = buffer.subarray(SINGLE_OBJECT_HEADER_BYTES);
    if (this.isCurrent(buffer)) return reader.fromBuffer(body, current);
    const hex = buffer.toString('hex', 2, SINGLE_OBJECT_HEADER_BYTES);
    const resolver = earlier.get(hex);
    if (resolver === undefined) throw new UnknownSchemaError(this.name, hex);
    return reader.fromBuffer(body, resolver);
  }

  isValid(value: unknown): boolean {
    return this.type.isValid(value);
  }
}

function isFramed(buffer: Buffer): boolean {
  return buffer.length >= SINGLE_OBJECT_HEADER_BYTES && buffer[0] === MAGIC_0 && buffer[1] === MAGIC_1;
}
