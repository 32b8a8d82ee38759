import type { Readable } from 'node:stream';
import { GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import type { Storage } from '@google-cloud/storage';
import type { BlobServiceClient } from '@azure/storage-blob';
import {
  classifyError,
  ErrorCodes,
  MeterflowError,
  PermanentError,
  TransientError,
} from '../../runtime/errors';

/**
 * The little a collector needs from a bucket: list a prefix, open an object as a stream. One
 * implementation per cloud SDK. Access problems become errors that name the bucket and the
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

async function toArrayBuffer(stream: Readable): Promise<ArrayBuffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(Buffer.from(c as Buffer));
  const b = Buffer.concat(chunks);
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
}

export async function readJsonObject(store: ObjectStore, key: string): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of await store.open(key)) chunks.push(Buffer.from(chunk as Buffer));
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

function accessError(
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

export class S3ObjectStore implements ObjectStore {
  readonly location: string;
  constructor(
    private readonly s3: S3Client,
    private readonly bucket: string,
    readonly credentialSource: string,
  ) {
    this.location = `s3://${bucket}`;
  }
  url(key: string): string {
    return `s3://${this.bucket}/${key}`;
  }
  async *list(prefix: string): AsyncIterable<ListedObject> {
    let token: string | undefined;
    do {
      let page;
      try {
        page = await this.s3.send(
          new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token }),
        );
      } catch (err) {
        throw accessError(err, this, 'list');
      }
      for (const o of page.Contents ?? []) {
        if (o.Key) yield { key: o.Key, lastModified: o.LastModified ?? new Date(0), size: o.Size ?? 0 };
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }
  async open(key: string): Promise<Readable> {
    try {
      const res = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      return res.Body as Readable;
    } catch (err) {
      throw accessError(err, this, `read ${key}`);
    }
  }
  async openRange(key: string) {
    let size: number;
    try {
      size = Number(
        (await this.s3.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }))).ContentLength ?? 0,
      );
    } catch (err) {
      throw accessError(err, this, `read ${key}`);
    }
    return {
      byteLength: size,
      slice: async (start: number, end: number) => {
        const res = await this.s3.send(
          new GetObjectCommand({ Bucket: this.bucket, Key: key, Range: `bytes=${start}-${end - 1}` }),
        );
        return toArrayBuffer(res.Body as Readable);
      },
    };
  }
}

export class GcsObjectStore implements ObjectStore {
  readonly location: string;
  constructor(
    private readonly storage: Storage,
    private readonly bucket: string,
    readonly credentialSource: string,
  ) {
    this.location = `gs://${bucket}`;
  }
  url(key: string): string {
    return `gs://${this.bucket}/${key}`;
  }
  async *list(prefix: string): AsyncIterable<ListedObject> {
    let pageToken: string | undefined;
    do {
      let files, next;
      try {
        [files, next] = await this.storage
          .bucket(this.bucket)
          .getFiles({ prefix, autoPaginate: false, maxResults: 1000, pageToken });
      } catch (err) {
        throw accessError(err, this, 'list');
      }
      for (const f of files) {
        yield {
          key: f.name,
          lastModified: new Date(String(f.metadata.updated ?? 0)),
          size: Number(f.metadata.size ?? 0),
        };
      }
      pageToken = (next as { pageToken?: string } | null)?.pageToken;
    } while (pageToken);
  }
  async open(key: string): Promise<Readable> {
    const file = this.storage.bucket(this.bucket).file(key);
    try {
      // Fail fast with a clear error if the object is missing, instead of mid-stream.
      await file.getMetadata();
    } catch (err) {
      throw accessError(err, this, `read ${key}`);
    }
    // decompress: false — we detect gzip ourselves; GCS would otherwise transcode gzip-encoded objects.
    return file.createReadStream({ decompress: false, validation: false });
  }
  async openRange(key: string) {
    const file = this.storage.bucket(this.bucket).file(key);
    let size: number;
    try {
      size = Number((await file.getMetadata())[0].size ?? 0);
    } catch (err) {
      throw accessError(err, this, `read ${key}`);
    }
    return {
      byteLength: size,
      slice: async (start: number, end: number) =>
        toArrayBuffer(file.createReadStream({ start, end: end - 1, decompress: false, validation: false })),
    };
  }
}

export class AzureBlobObjectStore implements ObjectStore {
  readonly location: string;
  constructor(
    private readonly service: BlobServiceClient,
    private readonly container: string,
    readonly credentialSource: string,
  ) {
    this.location = `azure://${service.accountName}/${container}`;
  }
  url(key: string): string {
    return `azure://${this.service.accountName}/${this.container}/${key}`;
  }
  async *list(prefix: string): AsyncIterable<ListedObject> {
    const container = this.service.getContainerClient(this.container);
    try {
      for await (const page of container.listBlobsFlat({ prefix }).byPage({ maxPageSize: 1000 })) {
        for (const b of page.segment.blobItems) {
          yield {
            key: b.name,
            lastModified: b.properties.lastModified,
            size: Number(b.properties.contentLength ?? 0),
          };
        }
      }
    } catch (err) {
      throw accessError(err, this, 'list');
    }
  }
  async open(key: string): Promise<Readable> {
    try {
      const res = await this.service.getContainerClient(this.container).getBlobClient(key).download();
      return res.readableStreamBody as Readable;
    } catch (err) {
      throw accessError(err, this, `read ${key}`);
    }
  }
  async openRange(key: string) {
    const blob = this.service.getContainerClient(this.container).getBlobClient(key);
    let size: number;
    try {
      size = Number((await blob.getProperties()).contentLength ?? 0);
    } catch (err) {
      throw accessError(err, this, `read ${key}`);
    }
    return {
      byteLength: size,
      slice: async (start: number, end: number) => {
        const res = await blob.download(start, end - start);
        return toArrayBuffer(res.readableStreamBody as Readable);
      },
    };
  }
}
