import fs from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { stackPaths } from '../../../deploy/stack/stack';
import { createGcs, GcsObjectStore } from '../../../providers/gcp/store';
import { testConfig, uniqueName } from '../helpers';

const config = testConfig();

async function readAll(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString();
}

/*
 * Real corruption on the real server: fake-gcs-server (filesystem backend) keeps an object's bytes
 * in a file and its metadata, MD5 and CRC32C included, in that file's extended attributes. Writing
 * the file in place changes what the server sends while the stored checksums stay those of the
 * upload, which is what a corrupted or cut-short download looks like to the client.
 */
describe('GCS downloads are checked against the object checksums', () => {
  const { client } = createGcs(config.gcp, config.local_stack);
  const bucket = uniqueName('checksum');
  const key = 'exports/2026-11/part-000.csv';
  const body = 'line_item_id,cost\n1,0.000000123\n2,4.5\n';
  const onDisk = () => path.join(stackPaths(config).dataDir, 'gcs', bucket, key);
  const store = new GcsObjectStore(client, bucket, 'none (local fake-gcs-server)');

  beforeAll(async () => {
    await client.createBucket(bucket);
    await client.bucket(bucket).file(key).save(body, { contentType: 'text/csv', resumable: false });
  });

  it('reads an intact object', async () => {
    expect(fs.existsSync(onDisk())).toBe(true);
    expect(await readAll(await store.open(key))).toBe(body);
  });

  it('fails a download whose bytes changed, naming the object, with a retryable error', async () => {
    const fd = fs.openSync(onDisk(), 'r+');
    fs.writeSync(fd, Buffer.from('9'), 0, 1, body.indexOf('4.5'));
    fs.closeSync(fd);
    await expect(readAll(await store.open(key))).rejects.toMatchObject({
      code: 'checksum_mismatch',
      retryable: true,
      message: expect.stringContaining(
        `gs://${bucket}/${key}: the downloaded bytes do not match the object's MD5`,
      ),
    });
  });

  it('fails a download cut short', async () => {
    fs.truncateSync(onDisk(), body.length - 5);
    await expect(readAll(await store.open(key))).rejects.toMatchObject({ code: 'checksum_mismatch' });
  });
});
