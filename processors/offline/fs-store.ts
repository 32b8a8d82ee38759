import { createReadStream } from 'node:fs';
import { open, readFile, readdir, realpath, stat } from 'node:fs/promises';
import { join, sep } from 'node:path';
import type { Readable } from 'node:stream';
import type { ListedObject, ObjectStore } from '../../collectors/core/object-store';
import { ErrorCodes, PermanentError } from '../../runtime/errors';

/**
 * A local folder seen as a bucket, for `meterflow rate`: keys are paths relative to the folder with
 * '/' separators, `lastModified` and `size` come from the file system. Implements the collectors'
 * ObjectStore so the same discovery and line readers run unchanged. Only `import type` from the
 * cloud store module: the offline mode never loads a cloud SDK.
 */
export class LocalFolderStore implements ObjectStore {
  readonly location: string;
  readonly credentialSource = 'local file system';

  /**
   * @param root      folder holding the objects
   * @param urlPrefix lineage prefix of every object (`local://<bucket>`); part of each record id, so
   *                  it must not depend on where the folder happens to be mounted
   */
  constructor(
    readonly root: string,
    private readonly urlPrefix: string,
  ) {
    this.location = urlPrefix;
  }

  url(key: string): string {
    return `${this.urlPrefix}/${key}`;
  }

  async *list(prefix: string): AsyncIterable<ListedObject> {
    const p = prefix.replace(/^\/+/, '');
    for (const o of await listFolder(this.root)) if (o.key.startsWith(p)) yield o;
  }

  async open(key: string): Promise<Readable> {
    const path = this.pathOf(key);
    try {
      const s = await stat(path);
      if (!s.isFile()) throw new Error('not a regular file');
    } catch (err) {
      throw new PermanentError(
        ErrorCodes.NOT_FOUND,
        `${this.url(key)}: cannot read ${path} (${(err as Error).message})`,
        {
          cause: err,
          details: { object: this.url(key) },
        },
      );
    }
    return createReadStream(path);
  }

  /** Random access for Parquet: the footer first, then one row group at a time. */
  async openRange(
    key: string,
  ): Promise<{ byteLength: number; slice(start: number, end: number): Promise<ArrayBuffer> }> {
    const path = this.pathOf(key);
    const size = (await stat(path)).size;
    return {
      byteLength: size,
      slice: async (start: number, end: number) => {
        const handle = await open(path, 'r');
        try {
          const buf = Buffer.alloc(end - start);
          await handle.read(buf, 0, end - start, start);
          return buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer;
        } finally {
          await handle.close();
        }
      },
    };
  }

  /** Reads a (small) JSON object such as a manifest; a BOM is ignored. */
  async readJson(key: string): Promise<unknown> {
    const text = (await readFile(this.pathOf(key), 'utf8')).replace(/^\uFEFF/, '');
    try {
      return JSON.parse(text) as unknown;
    } catch (err) {
      throw new PermanentError(
        ErrorCodes.MALFORMED_INPUT,
        `${this.url(key)}: not valid JSON (${(err as Error).message})`,
        { cause: err, details: { object: this.url(key) } },
      );
    }
  }

  private pathOf(key: string): string {
    const parts = key.replace(/^\/+/, '').split('/');
    if (parts.some((p) => p === '..')) {
      throw new PermanentError(ErrorCodes.MALFORMED_INPUT, `${key}: key leaves the input folder`);
    }
    return join(this.root, ...parts);
  }
}

/**
 * Lists every regular file below `root` (symbolic links followed) as `{key, lastModified, size}`,
 * keys relative to `root` with '/' separators, sorted. Only the listing is held in memory, never
 * file contents.
 */
export async function listFolder(root: string): Promise<ListedObject[]> {
  const out: ListedObject[] = [];
  // Real paths of the folders walked, so a symbolic link cycle is not followed forever.
  const seen = new Set<string>();
  const walk = async (dir: string, rel: string): Promise<void> => {
    const real = await realpath(dir);
    if (seen.has(real)) return;
    seen.add(real);
    const entries = await readdir(dir, { withFileTypes: true });
    for (const e of entries) {
      const path = join(dir, e.name);
      const key = rel ? `${rel}/${e.name}` : e.name;
      let isDir = e.isDirectory();
      let isFile = e.isFile();
      if (e.isSymbolicLink()) {
        const s = await stat(path).catch(() => undefined);
        isDir = s?.isDirectory() ?? false;
        isFile = s?.isFile() ?? false;
      }
      if (isDir) await walk(path, key);
      else if (isFile) {
        const s = await stat(path);
        out.push({ key: key.split(sep).join('/'), lastModified: s.mtime, size: s.size });
      }
    }
  };
  await walk(root, '');
  return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}
