import type { Readable } from 'node:stream';
import {
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import {
  accessError,
  toArrayBuffer,
  type ListedObject,
  type ObjectStore,
} from '../../collectors/core/object-store';
import type { StoreClient } from '../provider';
import type { AwsSection } from './config';

export function createS3(aws: AwsSection): StoreClient<S3Client> {
  const options: S3ClientConfig = { region: aws.region, maxAttempts: 5 };
  if (aws.endpoint) options.endpoint = aws.endpoint;
  if (aws.force_path_style !== undefined) options.forcePathStyle = aws.force_path_style;
  let credentialSource = aws.profile
    ? `AWS default chain (profile ${aws.profile})`
    : 'AWS default credential chain';
  if (aws.access_key_id && aws.secret_access_key) {
    options.credentials = {
      accessKeyId: aws.access_key_id,
      secretAccessKey: aws.secret_access_key,
      sessionToken: aws.session_token,
    };
    credentialSource = `access key ${aws.access_key_id} from meterflow config`;
  } else if (aws.profile) {
    process.env.AWS_PROFILE ??= aws.profile;
  }
  return { client: new S3Client(options), credentialSource };
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
