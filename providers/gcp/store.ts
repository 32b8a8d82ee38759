import type { Readable } from 'node:stream';
import { Storage, type StorageOptions } from '@google-cloud/storage';
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
