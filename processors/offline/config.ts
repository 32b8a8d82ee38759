import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseDocument } from 'yaml';
import { ZodError } from 'zod';
import { ConfigError } from '../../runtime/errors';
import { DEFAULT_NORMALIZE_OPTIONS, parseNormalizeOptions, type NormalizeOptions } from '../normalize';

/**
 * Normalize options for `meterflow rate --config FILE`: the top-level `normalize:` mapping of a
 * meterflow YAML file (attribution rules, default_currency, lenient_focus), validated by the
 * normalize stage's own schema. Every other key of the file (kafka, elasticsearch, ...) is ignored:
 * the offline mode needs no connection settings, so a full service config works as is. Kept in one
 * function so it can move to runtime/config.ts once attribution lives there.
 */
export function readOfflineNormalizeOptions(path: string | undefined): NormalizeOptions {
  if (path === undefined) return DEFAULT_NORMALIZE_OPTIONS;
  const source = resolve(path);
  let text: string;
  try {
    text = readFileSync(source, 'utf8');
  } catch (err) {
    throw new ConfigError(source, [`cannot read the file (${(err as Error).message})`]);
  }
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length > 0)
    throw new ConfigError(
      source,
      doc.errors.map((e) => e.message.split('\n')[0]),
    );
  const raw: unknown = doc.toJS() ?? {};
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new ConfigError(source, ['the file must hold a mapping at the top level']);
  }
  try {
    return parseNormalizeOptions((raw as Record<string, unknown>).normalize ?? {});
  } catch (err) {
    if (err instanceof ZodError) {
      throw new ConfigError(
        source,
        err.issues.map((i) => `${['normalize', ...i.path.map(String)].join('.')}: ${i.message}`),
      );
    }
    throw err;
  }
}
