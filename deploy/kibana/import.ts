import fs from 'node:fs';
import path from 'node:path';
import { ErrorCodes, PermanentError, TransientError } from '../../runtime/errors';
import { indexNames } from '../../sinks/elasticsearch/indices';

/**
 * `meterflow kibana import`: the saved objects of deploy/kibana (a data view over the published
 * usage alias, Lens charts and a dashboard) to a Kibana, through its saved objects import API
 * (POST /api/saved_objects/_import, multipart form with the NDJSON as `file`).
 *
 * The committed NDJSON says `{{usage_alias}}` wherever the alias goes (the data view's title, and
 * every object id, so two deployments with different prefixes can share one Kibana space); the
 * alias is `indexNames(prefix).usageAlias`, the one readers must use: the monthly indices behind
 * it also hold revisions not (yet) published or already superseded.
 */

export const ALIAS_PLACEHOLDER = '{{usage_alias}}';

/** The template: next to this module from the sources, or in the package's deploy/kibana from dist/. */
export function savedObjectsTemplateFile(): string {
  const candidates = [
    path.join(__dirname, 'saved-objects.ndjson'),
    path.resolve(__dirname, '../../../deploy/kibana/saved-objects.ndjson'),
  ];
  const found = candidates.find((f) => fs.existsSync(f));
  if (!found) throw new Error(`saved-objects.ndjson not found (looked at ${candidates.join(', ')})`);
  return found;
}

type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

function substitute(value: Json, alias: string): Json {
  if (typeof value === 'string') return value.split(ALIAS_PLACEHOLDER).join(alias);
  if (Array.isArray(value)) return value.map((v) => substitute(v, alias));
  if (value && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substitute(v, alias)]));
  return value;
}

/**
 * The saved objects for one index prefix, as NDJSON. Each line is parsed and the alias put into
 * its string values, then written back with JSON.stringify, so no prefix can break the JSON.
 */
export function renderSavedObjects(
  prefix: string,
  template = fs.readFileSync(savedObjectsTemplateFile(), 'utf8'),
): string {
  const alias = indexNames(prefix).usageAlias;
  return (
    template
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line, i) => {
        let parsed: Json;
        try {
          parsed = JSON.parse(line) as Json;
        } catch (err) {
          throw new PermanentError(
            ErrorCodes.MALFORMED_INPUT,
            `saved objects template, line ${i + 1}: not JSON (${(err as Error).message})`,
          );
        }
        return JSON.stringify(substitute(parsed, alias));
      })
      .join('\n') + '\n'
  );
}

export interface KibanaImportOptions {
  /** Kibana's base URL, e.g. https://kibana.internal:5601 (a base path included, if any). */
  url: string;
  /** elasticsearch.index_prefix of the deployment whose usage the objects show. */
  prefix: string;
  /** A Kibana space other than the default. */
  space?: string;
  /** Authorization: ApiKey <key> (an encoded Elasticsearch API key). */
  apiKey?: string;
  username?: string;
  password?: string;
  /** Replace objects with the same ids (a re-import after an upgrade of this kit). */
  overwrite: boolean;
  /** Allow credentials over plain http to a host other than loopback. */
  allowInsecure?: boolean;
}

export interface KibanaImportResult {
  successCount: number;
  /** Where the request went (no credentials in it). */
  endpoint: string;
}

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);

/** The import endpoint for a base URL and space. */
export function importEndpoint(base: string, space: string | undefined, overwrite: boolean): URL {
  let url: URL;
  try {
    url = new URL(base);
  } catch {
    throw new PermanentError(ErrorCodes.CONFIG_INVALID, `--url ${base}: not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new PermanentError(ErrorCodes.CONFIG_INVALID, `--url ${base}: must be http or https`);
  if (url.username || url.password)
    throw new PermanentError(
      ErrorCodes.CONFIG_INVALID,
      '--url must not carry credentials; use --api-key or --username with KIBANA_PASSWORD',
    );
  if (space !== undefined && !/^[a-z0-9_-]+$/.test(space))
    throw new PermanentError(ErrorCodes.CONFIG_INVALID, `--space ${space}: a Kibana space id is [a-z0-9_-]+`);
  const basePath = url.pathname.replace(/\/+$/, '');
  url.pathname = `${basePath}${space ? `/s/${space}` : ''}/api/saved_objects/_import`;
  url.search = overwrite ? '?overwrite=true' : '';
  return url;
}

/** POSTs the rendered saved objects to Kibana's import API; throws naming every object Kibana refused. */
export async function importSavedObjects(o: KibanaImportOptions): Promise<KibanaImportResult> {
  const endpoint = importEndpoint(o.url, o.space, o.overwrite);
  const headers: Record<string, string> = { 'kbn-xsrf': 'meterflow' };
  if (o.apiKey) headers.authorization = `ApiKey ${o.apiKey}`;
  else if (o.username !== undefined) {
    if (o.password === undefined)
      throw new PermanentError(ErrorCodes.CONFIG_INVALID, '--username needs a password (KIBANA_PASSWORD)');
    headers.authorization = `Basic ${Buffer.from(`${o.username}:${o.password}`).toString('base64')}`;
  }
  if (
    headers.authorization &&
    endpoint.protocol === 'http:' &&
    !LOOPBACK.has(endpoint.hostname) &&
    !o.allowInsecure
  )
    throw new PermanentError(
      ErrorCodes.CONFIG_INVALID,
      `--url ${o.url}: credentials over plain http to a remote host; use https (or --allow-insecure)`,
    );
  const form = new FormData();
  form.append(
    'file',
    new Blob([renderSavedObjects(o.prefix)], { type: 'application/ndjson' }),
    'meterflow.ndjson',
  );
  let res: Response;
  try {
    res = await fetch(endpoint, { method: 'POST', headers, body: form });
  } catch (err) {
    throw new TransientError(
      ErrorCodes.NETWORK,
      `Kibana at ${endpoint.origin} unreachable: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
  const text = await res.text();
  if (!res.ok) {
    const code =
      res.status === 401 || res.status === 403
        ? ErrorCodes.ACCESS_DENIED
        : res.status === 404
          ? ErrorCodes.NOT_FOUND
          : ErrorCodes.SERVER_UNAVAILABLE;
    throw new PermanentError(
      code,
      `Kibana answered ${res.status} to ${endpoint.pathname}: ${text.slice(0, 500)}`,
    );
  }
  let body: {
    success?: boolean;
    successCount?: number;
    errors?: Array<{ id?: string; type?: string; error?: { type?: string; message?: string } }>;
  };
  try {
    body = JSON.parse(text);
  } catch {
    throw new PermanentError(
      ErrorCodes.MALFORMED_INPUT,
      `Kibana's import answer is not JSON: ${text.slice(0, 200)}`,
    );
  }
  if (body.success !== true) {
    const problems = (body.errors ?? [])
      .map(
        (e) =>
          `${e.type ?? '?'} ${e.id ?? '?'}: ${e.error?.type ?? 'error'}${e.error?.message ? ` (${e.error.message})` : ''}`,
      )
      .join('; ');
    throw new PermanentError(
      ErrorCodes.MALFORMED_INPUT,
      `Kibana imported ${body.successCount ?? 0} objects and refused others: ${problems || text.slice(0, 500)}`,
    );
  }
  return { successCount: body.successCount ?? 0, endpoint: `${endpoint.origin}${endpoint.pathname}` };
}
