import { Readable } from 'node:stream';
import { readJsonObject, type ObjectStore } from '../../../collectors/core/object-store';
import { MeterflowError } from '../../../runtime/errors';

function storeOf(body: Buffer): ObjectStore {
  return {
    location: 's3://b',
    credentialSource: 'test',
    list: async function* () {},
    open: async () => Readable.from([body.subarray(0, body.length / 2), body.subarray(body.length / 2)]),
    openRange: async () => ({ byteLength: 0, slice: async () => new ArrayBuffer(0) }),
    url: (key) => `s3://b/${key}`,
  };
}

describe('readJsonObject (manifests)', () => {
  it('reads a manifest within the size limit', async () => {
    const body = Buffer.from(JSON.stringify({ executionId: 'e', dataFiles: ['a', 'b'] }));
    expect(await readJsonObject(storeOf(body), 'm.json', 1024)).toEqual({
      executionId: 'e',
      dataFiles: ['a', 'b'],
    });
  });

  it('refuses a manifest over the limit instead of reading it whole, naming it', async () => {
    const body = Buffer.from(
      JSON.stringify({ dataFiles: Array.from({ length: 500 }, (_, i) => `file-${i}`) }),
    );
    const read = readJsonObject(storeOf(body), 'huge-Manifest.json', 1024);
    await expect(read).rejects.toThrow(MeterflowError);
    await expect(readJsonObject(storeOf(body), 'huge-Manifest.json', 1024)).rejects.toThrow(
      /s3:\/\/b\/huge-Manifest\.json: a manifest larger than 1024 bytes/,
    );
  });
});
