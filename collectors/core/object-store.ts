import type { Readable } from 'node:stream';
import {
  classifyError,
  ErrorCodes,
  MeterflowError,
  PermanentError,
  TransientError,
} from '../../runtime/errors';

/**
 * The little a collector needs from a bucket: list a prefix, open an object as a stream. One
 * implementation per cloud SDK, in its provider folder (providers/<name>/store.ts). Access problems become errors that name the bucket and the
 * credential source (never the credential), so a person knows what to fix.
 */
export interface ListedObject {
  key: string;
  lastModified: Date;
  size: number;
}

export interface ObjectStore {
  /** s3://bucket, gs://bucket, azure://account/container */
  readonly location: string;
  readonly credentialSource: string;
  list(prefix: string): AsyncIterable<ListedObject>;
  open(key: string): Promise<Readable>;
  /** Random access for formats that need it (Parquet keeps its footer at the end). */
  openRange(
    key: string,
  ): Promise<{ byteLength: number; slice(start: number, end: number): Promise<ArrayBuffer> }>;
  url(key: string): string;
}

export async function toArrayBuffer(stream: Readable): Promise<ArrayBuffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(Buffer.from(c as Buffer));
  const b = Buffer.concat(chunks);
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
}

/**
 * The largest manifest read. Manifests are read whole (they are JSON); the biggest real ones list a
 * few thousand files in well under a MB, so anything near this size is not a manifest.
 */
export const MAX_MANIFEST_BYTES = 64 * 1024 * 1024;

export async function readJsonObject(
  store: ObjectStore,
  key: string,
  maxBytes = MAX_MANIFEST_BYTES,
): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  const stream = await store.open(key);
  for await (const chunk of stream) {
    size += (chunk as Buffer).length;
    if (size > maxBytes) {
      stream.destroy();
      throw new PermanentError(
        ErrorCodes.MALFORMED_INPUT,
        `${store.url(key)}: a manifest larger than ${maxBytes} bytes; refusing to read it whole`,
      );
    }
    chunks.push(Buffer.from(chunk as Buffer));
  }
  const text = Buffer.concat(chunks)
    .toString('utf8')
    .replace(/^\uFEFF/, '');
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new PermanentError(
      ErrorCodes.MALFORMED_INPUT,
      `${store.url(key)}: not valid JSON (${(err as Error).message})`,
    );
  }
}

export async function listAll(store: ObjectStore, prefix: string): Promise<ListedObject[]> {
  const out: ListedObject[] = [];
  for await (const o of store.list(prefix)) out.push(o);
  return out;
}

export function accessError(
  err: unknown,
  store: { location: string; credentialSource: string },
  what: string,
): MeterflowError {
  const e = classifyError(err);
  const raw = err as { name?: string; Code?: string; code?: string | number; statusCode?: number };
  const name = String(raw.name ?? raw.Code ?? raw.code ?? '');
  if (
    /NoSuchBucket|ContainerNotFound|BucketNotFound/i.test(name) ||
    (e.code === ErrorCodes.NOT_FOUND && what === 'list')
  ) {
    return new PermanentError(
      ErrorCodes.NOT_FOUND,
      `${store.location}: bucket or container does not exist (credentials: ${store.credentialSource})`,
      { cause: err },
    );
  }
  if (
    e.code === ErrorCodes.ACCESS_DENIED ||
    /AccessDenied|AuthorizationFailure|AuthenticationFailed|Forbidden|InvalidAccessKeyId|SignatureDoesNotMatch/i.test(
      name,
    )
  ) {
    return new PermanentError(
      ErrorCodes.ACCESS_DENIED,
      `${store.location}: access denied to ${what} (credentials: ${store.credentialSource})`,
      { cause: err },
    );
  }
  if (e.code === ErrorCodes.NOT_FOUND || /NoSuchKey|BlobNotFound/i.test(name)) {
    return new PermanentError(ErrorCodes.NOT_FOUND, `${store.location}: ${what}: object not found`, {
      cause: err,
    });
  }
  if (e.retryable)
    return new TransientError(e.code, `${store.location}: ${what}: ${e.message}`, { cause: err });
  return new PermanentError(e.code, `${store.location}: ${what}: ${e.message}`, { cause: err });
}
