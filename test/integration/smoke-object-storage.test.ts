import {
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { createAzureBlob } from '../../providers/azure/store';
import { createGcs } from '../../providers/gcp/store';
import { createS3 } from '../../providers/aws/store';
import { testConfig, uniqueName } from './helpers';

const config = testConfig();
const OBJECTS = 25;
const PAGE = 10; // 25 objects in pages of 10: three pages, the last one short

const keys = Array.from(
  { length: OBJECTS },
  (_, i) => `exports/2026-11/part-${String(i).padStart(3, '0')}.csv`,
);
const body = (key: string) => `line_item_id,cost\n${key},0.000000123\n`;

describe('object storage servers (local stack), through each cloud SDK', () => {
  it('S3 (MinIO): writes, lists with pagination, reads back, and does a multipart upload', async () => {
    const { client: s3 } = createS3(config.aws);
    const Bucket = uniqueName('smoke');
    await s3.send(new CreateBucketCommand({ Bucket }));
    for (const Key of keys) await s3.send(new PutObjectCommand({ Bucket, Key, Body: body(Key) }));

    const listed: string[] = [];
    let pages = 0;
    let ContinuationToken: string | undefined;
    do {
      const page = await s3.send(
        new ListObjectsV2Command({ Bucket, Prefix: 'exports/', MaxKeys: PAGE, ContinuationToken }),
      );
      pages++;
      for (const o of page.Contents ?? []) {
        expect(o.ETag).toMatch(/^"[0-9a-f]{32}"$/);
        listed.push(o.Key!);
      }
      ContinuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (ContinuationToken);
    expect(pages).toBe(3);
    expect(listed).toEqual(keys);

    const got = await s3.send(new GetObjectCommand({ Bucket, Key: keys[7] }));
    expect(await got.Body!.transformToString()).toBe(body(keys[7]));

    // Multipart: two parts (S3's minimum part size is 5 MiB for all but the last).
    const Key = 'exports/large.csv.gz';
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket, Key }));
    const part1 = Buffer.alloc(5 * 1024 * 1024, 'a');
    const part2 = Buffer.from('tail');
    const p1 = await s3.send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: 1, Body: part1 }));
    const p2 = await s3.send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: 2, Body: part2 }));
    const done = await s3.send(
      new CompleteMultipartUploadCommand({
        Bucket,
        Key,
        UploadId,
        MultipartUpload: {
          Parts: [
            { PartNumber: 1, ETag: p1.ETag },
            { PartNumber: 2, ETag: p2.ETag },
          ],
        },
      }),
    );
    // A multipart ETag is "<md5 of the part md5s>-<part count>".
    expect(done.ETag).toMatch(/-2"$/);
    const large = await s3.send(new GetObjectCommand({ Bucket, Key }));
    expect((await large.Body!.transformToByteArray()).length).toBe(part1.length + part2.length);
  });

  it('GCS (fake-gcs-server): writes, lists with pagination, reads back', async () => {
    const { client: gcs } = createGcs(config.gcp, config.local_stack);
    const name = uniqueName('smoke');
    await gcs.createBucket(name);
    const bucket = gcs.bucket(name);
    for (const key of keys) await bucket.file(key).save(body(key), { resumable: false });

    const listed: string[] = [];
    let pages = 0;
    let pageToken: string | undefined;
    do {
      const [files, next] = await bucket.getFiles({
        prefix: 'exports/',
        maxResults: PAGE,
        autoPaginate: false,
        pageToken,
      });
      pages++;
      listed.push(...files.map((f) => f.name));
      pageToken = (next as { pageToken?: string } | null)?.pageToken;
    } while (pageToken);
    expect(pages).toBe(3);
    expect(listed).toEqual(keys);

    const [content] = await bucket.file(keys[11]).download();
    expect(content.toString()).toBe(body(keys[11]));
  });

  it('Azure Blob (Azurite): writes, lists with pagination, reads back', async () => {
    const { client: blob } = createAzureBlob(config.azure);
    const container = blob.getContainerClient(uniqueName('smoke'));
    await container.create();
    for (const key of keys)
      await container.getBlockBlobClient(key).upload(body(key), Buffer.byteLength(body(key)));

    const listed: string[] = [];
    let pages = 0;
    for await (const page of container.listBlobsFlat({ prefix: 'exports/' }).byPage({ maxPageSize: PAGE })) {
      pages++;
      listed.push(...page.segment.blobItems.map((b) => b.name));
    }
    expect(pages).toBe(3);
    expect(listed).toEqual(keys);

    const downloaded = await container.getBlockBlobClient(keys[19]).downloadToBuffer();
    expect(downloaded.toString()).toBe(body(keys[19]));
  });
});
