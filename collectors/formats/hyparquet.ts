import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import vm from 'node:vm';

/* Loading hyparquet and hyparquet-compressors (ES modules only) from this CommonJS code. */

type Hyparquet = typeof import('hyparquet', { with: { 'resolution-mode': 'import' } });
type HyparquetCompressors = typeof import('hyparquet-compressors', { with: { 'resolution-mode': 'import' } });
/** Constructors of the realm hyparquet runs in, for its `instanceof Promise` / `ArrayBuffer` checks. */
interface Realm {
  Promise: PromiseConstructor;
  ArrayBuffer: ArrayBufferConstructor;
  Uint8Array: Uint8ArrayConstructor;
}
export interface HyparquetModules {
  hyparquet: Hyparquet;
  compressors: HyparquetCompressors['compressors'];
  realm: Realm;
}

let loading: Promise<HyparquetModules> | undefined;

/**
 * hyparquet and hyparquet-compressors are ES modules. Node >= 20.19 (our `engines`) loads them with
 * a plain `require()` (require(esm)), which is what the built service does. Jest's module registry
 * only supports require(esm) from Node 24.9 and its vm sandbox refuses a bare dynamic `import()`
 * without --experimental-vm-modules, so there we fall back to `import()` compiled in the main
 * context with Node's default loader (`vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER`). Objects from
 * that path belong to the main realm: nothing below relies on `instanceof` for hyparquet values, and
 * the promises and buffers we hand to hyparquet are made in its realm (it checks `instanceof Promise`).
 */
/**
 * Loads an ES module from this CommonJS code the way loadHyparquet does: require(esm) where Node
 * allows it, else `import()` in the main context. Values that cross from such a module must not
 * rely on `instanceof` against this realm's classes.
 */
export async function importEsm<T>(specifier: string): Promise<T> {
  const req = createRequire(__filename);
  try {
    return req(specifier) as T;
  } catch (err) {
    if ((err as { code?: unknown }).code !== 'ERR_REQUIRE_ESM') throw err;
  }
  const load = vm.runInThisContext('(url) => import(url)', {
    importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
  }) as (url: string) => Promise<unknown>;
  return (await load(pathToFileURL(req.resolve(specifier)).href)) as T;
}

export function loadHyparquet(): Promise<HyparquetModules> {
  loading ??= (async (): Promise<HyparquetModules> => {
    const req = createRequire(__filename);
    try {
      const hyparquet = req('hyparquet') as Hyparquet;
      const { compressors } = req('hyparquet-compressors') as HyparquetCompressors;
      return { hyparquet, compressors, realm: { Promise, ArrayBuffer, Uint8Array } };
    } catch (err) {
      if ((err as { code?: unknown }).code !== 'ERR_REQUIRE_ESM') throw err;
    }
    const importEsm = vm.runInThisContext('(url) => import(url)', {
      importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
    }) as (url: string) => Promise<unknown>;
    const hyparquet = (await importEsm(pathToFileURL(req.resolve('hyparquet')).href)) as Hyparquet;
    const { compressors } = (await importEsm(
      pathToFileURL(req.resolve('hyparquet-compressors')).href,
    )) as HyparquetCompressors;
    const realm = vm.runInThisContext('({ Promise, ArrayBuffer, Uint8Array })') as Realm;
    return { hyparquet, compressors, realm };
  })();
  loading.catch(() => (loading = undefined));
  return loading;
}
