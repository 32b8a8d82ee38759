import type { Readable } from 'node:stream';
import { BlobServiceClient, StorageSharedKeyCredential } from '@azure/storage-blob';
import { DefaultAzureCredential } from '@azure/identity';
import {
  accessError,
  toArrayBuffer,
  type ListedObject,
  type ObjectStore,
} from '../../collectors/core/object-store';
import type { StoreClient } from '../provider';
import type { AzureSection } from './config';

export function createAzureBlob(az: AzureSection): StoreClient<BlobServiceClient> {
  if (az.connection_string) {
    const account = az.connection_string.match(/AccountName=([^;]+)/)?.[1] ?? 'unknown';
    return {
      client: BlobServiceClient.fromConnectionString(az.connection_string),
      credentialSource: `connection string of account ${account}`,
    };
  }
  if (!az.account_name) throw new Error('azure.account_name or azure.connection_string must be set');
  const url = az.endpoint ?? `https://${az.account_name}.blob.core.windows.net`;
  if (az.sas_token)
    return {
      client: new BlobServiceClient(`${url}?${az.sas_token}`),
      credentialSource: `SAS token for ${az.account_name}`,
    };
  if (az.account_key) {
    return {
      client: new BlobServiceClient(url, new StorageSharedKeyCredential(az.account_name, az.account_key)),
      credentialSource: `shared key of account ${az.account_name}`,
    };
  }
  // Environment, workload identity, managed identity, Azure CLI, ...
  return {
    client: new BlobServiceClient(url, new DefaultAzureCredential()),
    credentialSource: 'Azure DefaultAzureCredential chain',
  };
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
