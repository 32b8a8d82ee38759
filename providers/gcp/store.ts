import crypto from 'node:crypto';
import { pipeline, Transform, type Readable } from 'node:stream';
import { CRC32C, Storage, type StorageOptions } from '@google-cloud/storage';
import { ErrorCodes, TransientError } from '../../runtime/errors';
import {
  accessError,
  toArrayBuffer,
  type ListedObject,
  type ObjectStore,
} from '../../collectors/core/object-store';
import type { StoreClient } from '../provider';
import type { GcpSection } from './config';

export function createGcs(gcp: GcpSection, localStack: boolean): StoreClient<Storage> {
  const options: StorageOptions = {
    projectId: gcp.project_id,
    retryOptions: { autoRetry: true, maxRetries: 5 },
  };
  let credentialSource = 'Google Application Default Credentials';
  if (gcp.key_file) {
    options.keyFilename = gcp.key_file;
    credentialSource = `service-account key file ${gcp.key_file}`;
  }
  if (gcp.endpoint) {
    options.apiEndpoint = gcp.endpoint;
    if (!gcp.key_file && localStack) {
      // fake-gcs-server accepts any token; skip the credential lookup entirely.
      options.token = 'local-stack';
      credentialSource = 'none (local fake-gcs-server)';
    }
  }
  return { client: new Storage(options), credentialSource };
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
    let metadata: { generation?: string | number; md5Hash?: string; crc32c?: string };
    try {
      // Fail fast with a clear error if the object is missing, instead of mid-stream.
      [metadata] = await this.storage.bucket(this.bucket).file(key).getMetadata();
    } catch (err) {
      throw accessError(err, this, `read ${key}`);
    }
    // Read the generation the checksums belong to: an object replaced meanwhile is not mixed in.
    const file = this.storage
      .bucket(this.bucket)
      .file(key, metadata.generation === undefined ? {} : { generation: metadata.generation });
    // decompress: false: we detect gzip ourselves; GCS would otherwise transcode gzip-encoded
    // objects. The SDK's own validation is off because it silently skips objects whose response
    // lacks x-goog-stored-content-encoding; checkedDownload verifies every byte against the
    // object's metadata instead.
    return checkedDownload(
      this.url(key),
      file.createReadStream({ decompress: false, validation: false }),
      metadata,
    );
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

/**
 * The download, verified against the object's stored MD5 (native and fast; absent on composite
 * objects) or else its CRC32C. A mismatch at the end fails the stream with a retryable error
 * naming the object, so the revision is read again on the next pass and no corrupted or truncated
 * bytes are ever committed as rows.
 */
export function checkedDownload(
  url: string,
  source: Readable,
  metadata: { md5Hash?: string; crc32c?: string },
): Readable {
  let update: (chunk: Buffer) => void;
  let digest: () => string;
  let kind: string;
  let expected: string;
  if (metadata.md5Hash) {
    const md5 = crypto.createHash('md5');
    update = (c) => md5.update(c);
    digest = () => md5.digest('base64');
    kind = 'MD5';
    expected = metadata.md5Hash;
  } else if (metadata.crc32c) {
    const crc = new CRC32C();
    update = (c) => crc.update(c);
    digest = () => crc.toString();
    kind = 'CRC32C';
    expected = metadata.crc32c;
  } else {
    return source;
  }
  const check = new Transform({
    transform(chunk: Buffer, _enc, done) {
      update(chunk);
      done(null, chunk);
    },
    flush(done) {
      const actual = digest();
      if (actual === expected) return done();
      done(
        new TransientError(
          ErrorCodes.CHECKSUM_MISMATCH,
          `${url}: the downloaded bytes do not match the object's ${kind} (${actual}, expected ${expected}): the download was corrupted or cut short; it is read again`,
        ),
      );
    },
  });
  // pipeline, not pipe: an error of the download reaches the reader through `check`.
  return pipeline(source, check, () => undefined);
}
