import crypto from 'node:crypto';
import { Readable } from 'node:stream';
import { CRC32C } from '@google-cloud/storage';
import { checkedDownload } from '../../../../providers/gcp/store';

const URL = 'gs://bucket/exports/part-0.csv';
const body = Buffer.from('a,b\n1,2\n3,4\n');
const md5 = crypto.createHash('md5').update(body).digest('base64');
const crc = (() => {
  const c = new CRC32C();
  c.update(body);
  return c.toString();
})();

async function read(bytes: Buffer, metadata: { md5Hash?: string; crc32c?: string }): Promise<string> {
  const chunks: Buffer[] = [];
  // Three chunks: the digest must run over all of them, in order.
  const source = Readable.from([bytes.subarray(0, 3), bytes.subarray(3, 7), bytes.subarray(7)]);
  for await (const c of checkedDownload(URL, source, metadata)) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString();
}

describe('checkedDownload', () => {
  it('passes the bytes through when the MD5 matches, and when only the CRC32C is stored and matches', async () => {
    await expect(read(body, { md5Hash: md5, crc32c: 'wrong' })).resolves.toBe(body.toString());
    await expect(read(body, { crc32c: crc })).resolves.toBe(body.toString());
  });

  it('fails with checksum_mismatch naming the object when the bytes differ', async () => {
    const changed = Buffer.from(body);
    changed[5] = 0x39;
    await expect(read(changed, { md5Hash: md5 })).rejects.toMatchObject({
      code: 'checksum_mismatch',
      retryable: true,
      message: expect.stringContaining(`${URL}: the downloaded bytes do not match the object's MD5`),
    });
    await expect(read(changed, { crc32c: crc })).rejects.toMatchObject({
      code: 'checksum_mismatch',
      message: expect.stringContaining("object's CRC32C"),
    });
  });

  it('passes an error of the download itself on to the reader', async () => {
    const failing = new Readable({
      read() {
        this.destroy(new Error('connection reset'));
      },
    });
    const chunks: unknown[] = [];
    await expect(
      (async () => {
        for await (const c of checkedDownload(URL, failing, { md5Hash: md5 })) chunks.push(c);
      })(),
    ).rejects.toThrow('connection reset');
  });
});
