import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LineCounter, parseDocument, isMap, isSeq, type Node } from 'yaml';
import { z } from 'zod';
import { ConfigError } from './errors';
import { bool, num, str, strList } from './config-schema';
import { registerSecret } from './redact';
import { NormalizeOptionsSchema } from '../processors/normalize/config';
import { SinkOptionsSchema } from '../sinks/elasticsearch/config';
import { InvoiceOptionsSchema } from '../invoices/config';
import { COLLECTING_PROVIDERS, type ProviderSections } from '../providers/registry';
import { ApiConfigSchema } from '../api/config';

/**
 * meterflow's configuration: one YAML file (meterflow.yaml) plus environment overrides.
 *
 * This file is the one place where every option, its default and its meaning are written down;
 * `meterflow config docs` renders it (docs/configuration.md is that rendering, checked by a test).
 * Names are snake_case with unit suffixes (_ms, _mb, _bytes). Unknown keys are rejected, and every
 * problem is reported at once with the line it is on.
 *
 * Environment overrides: METERFLOW_<PATH> with `__` between levels, e.g.
 *   METERFLOW_KAFKA__BROKERS=broker-1:9092,broker-2:9092
 *   METERFLOW_ELASTICSEARCH__API_KEY=...
 * Lists take comma-separated values; numbers and booleans are parsed from text.
 *
 * With `local_stack: true` (the default, and what you get with no file at all) every connection
 * setting left unset points at the local stack that `meterflow stack up` runs.
 */

const TlsSchema = z
  .object({
    enabled: bool('Connect with TLS.').default(false),
    ca_file: str('PEM file of the certificate authorities to trust; the system store when unset.').optional(),
    cert_file: str('PEM client certificate for mutual TLS.').optional(),
    key_file: str('PEM private key of the client certificate.').optional(),
    reject_unauthorized: bool(
      'Reject servers whose certificate does not verify. Turn off only for a test cluster.',
    ).default(true),
  })
  .strict();

export const KafkaConfigSchema = z
  .object({
    brokers: strList(
      'Bootstrap brokers, host:port. Empty: the local stack broker (with local_stack: true).',
    ).default([]),
    client_id: str('Kafka client id prefix; each stage appends its name.').default('meterflow'),
    connection_timeout_ms: num('Timeout to open a broker connection.').default(10_000),
    request_timeout_ms: num('Timeout of one broker request.').default(30_000),
    tls: TlsSchema.prefault({}).describe('TLS to the brokers.'),
    sasl: z
      .object({
        mechanism: z.enum(['plain', 'scram-sha-256', 'scram-sha-512']).describe('SASL mechanism.'),
        username: str('SASL user name.'),
        password: str('SASL password. Prefer METERFLOW_KAFKA__SASL__PASSWORD to writing it in the file.'),
      })
      .strict()
      .optional()
      .describe('SASL authentication; none when unset.'),
    topic_prefix: str(
      'Prefix of every topic meterflow creates and reads: <prefix>.raw.aws, <prefix>.rated, ...',
    ).default('meterflow'),
    topic_partitions: num('Partitions of the topics meterflow creates when they are missing.').default(3),
    topic_replication_factor: num(
      'Replication factor of the topics meterflow creates (1 on the local stack).',
    ).default(1),
  })
  .strict();

export const ElasticsearchConfigSchema = z
  .object({
    node: str('Elasticsearch URL. Unset: the local stack node (with local_stack: true).').optional(),
    api_key: str('API key (the base64 "id:key" form). Takes precedence over username/password.').optional(),
    username: str('Basic-auth user.').optional(),
    password: str('Basic-auth password.').optional(),
    tls: TlsSchema.omit({ enabled: true }).prefault({}).describe('TLS options for an https node URL.'),
    request_timeout_ms: num('Timeout of one request.').default(60_000),
    index_prefix: str('Prefix of every index, template and alias meterflow manages.').default('meterflow'),
  })
  .strict();

export const StackConfigSchema = z
  .object({
    state_dir: str(
      'Folder (relative to the working directory) for the local stack data, logs and pid files.',
    ).default('.meterflow'),
    cache_dir: str(
      'Folder for downloaded and built server artifacts, shared by every checkout. Default ~/.cache/meterflow.',
    ).optional(),
    elasticsearch_heap_mb: num('Elasticsearch JVM heap (min and max).').default(1024),
    elasticsearch_user: str(
      'Non-root user Elasticsearch runs as when meterflow runs as root (created if missing).',
    ).default('meterflow'),
    ports: z
      .object({
        kafka: num('Kafka broker listener.').default(9092),
        kafka_controller: num('Kafka KRaft controller listener.').default(9093),
        elasticsearch: num('Elasticsearch HTTP.').default(9200),
        elasticsearch_transport: num('Elasticsearch transport.').default(9300),
        s3: num('S3 server (MinIO) API.').default(9000),
        s3_console: num('MinIO console.').default(9001),
        gcs: num('fake-gcs-server.').default(4443),
        azure_blob: num('Azurite blob service.').default(10000),
      })
      .strict()
      .prefault({}),
    s3_access_key: str('Root user of the local S3 server.').default('meterflow'),
    s3_secret_key: str('Root password of the local S3 server.').default('meterflow-local-secret'),
  })
  .strict();

export const CollectorConfigSchema = z
  .object({
    poll_interval_ms: num('Time between two discovery passes of a long-running collector.').default(300_000),
    transaction_rows: num(
      'Lines per Kafka transaction (rows, dead letters and the checkpoint commit together).',
    ).default(5_000),
  })
  .strict();

export const ProcessorConfigSchema = z
  .object({
    instance_id: str(
      'Stable name of this processor instance (a pod name). Part of its Kafka transactional id, so a restarted instance fences its predecessor. Default: the host name.',
    ).optional(),
    dedupe_max_ids: num(
      'Record ids the dedupe stage tracks per instance (about 145 bytes each); least recently seen revisions are forgotten first.',
    ).default(1_000_000),
    session_timeout_ms: num(
      'Consumer-group session timeout: how long a dead instance holds its partitions before a rebalance.',
    ).default(30_000),
    price_book_file: str(
      'Price book published to the price-book topic by `meterflow pricebook publish`; unset: rate at cost (markup 0).',
    ).optional(),
  })
  .strict();

export const OpsConfigSchema = z
  .object({
    host: str('Address of the /metrics, /healthz and /readyz endpoint of long-running processes.').default(
      '127.0.0.1',
    ),
    port: num('Port of that endpoint; 0 picks a free one (printed at start).').default(9464),
  })
  .strict();

function providerSections(): { [K in keyof ProviderSections]: z.ZodType<ProviderSections[K], unknown> } {
  return Object.fromEntries(
    COLLECTING_PROVIDERS.map((p) => [p.name, (p.collector.config as z.ZodType).prefault({})]),
  ) as unknown as { [K in keyof ProviderSections]: z.ZodType<ProviderSections[K], unknown> };
}

export const MeterflowConfigSchema = z
  .object({
    local_stack: bool(
      'Fill every unset connection setting with the local stack that `meterflow stack up` runs.',
    ).default(true),
    log: z
      .object({
        level: z
          .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
          .default('info')
          .describe('Log level.'),
      })
      .strict()
      .prefault({}),
    ops: OpsConfigSchema.prefault({}),
    collector: CollectorConfigSchema.prefault({}),
    processor: ProcessorConfigSchema.prefault({}),
    normalize: NormalizeOptionsSchema.prefault({}).describe(
      'How provider rows become FOCUS records: customer attribution and lenient inputs.',
    ),
    kafka: KafkaConfigSchema.prefault({}),
    elasticsearch: ElasticsearchConfigSchema.prefault({}),
    sink: SinkOptionsSchema.prefault({}).describe(
      'The Elasticsearch sink and its revision publisher: bulk sizing, retries, index settings.',
    ),
    invoice: InvoiceOptionsSchema.prefault({}).describe(
      'Invoices: line grouping, the scheduled mode and when it finalizes a closed period.',
    ),
    api: ApiConfigSchema.prefault({}).describe('The REST API: where it listens and its (hashed) API keys.'),
    // One section per provider with a collector (aws:, gcp:, azure:), defined in its folder.
    ...providerSections(),
    stack: StackConfigSchema.prefault({}),
  })
  .strict();

export type MeterflowConfig = z.output<typeof MeterflowConfigSchema>;

export interface LoadedConfig {
  config: MeterflowConfig;
  /** The file read, or undefined when none existed. */
  source: string | undefined;
}

export interface LoadOptions {
  /** Explicit path (--config); an explicit path that does not exist is an error. */
  path?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

/**
 * Find, read, merge and validate the configuration:
 *   1. --config PATH, else $METERFLOW_CONFIG, else ./meterflow.yaml if present, else no file;
 *   2. METERFLOW_* environment variables override the file;
 *   3. the result is validated; all problems are reported together, with file lines;
 *   4. with local_stack: true, unset connection settings are filled from the local stack.
 */
export function loadConfig(options: LoadOptions = {}): LoadedConfig {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const explicit = options.path ?? env.METERFLOW_CONFIG;
  let source: string | undefined;
  let raw: unknown = {};
  let doc: ReturnType<typeof parseDocument> | undefined;
  const lineCounter = new LineCounter();

  if (explicit) {
    source = path.resolve(cwd, explicit);
    if (!fs.existsSync(source)) throw new ConfigError(source, ['file not found']);
  } else if (fs.existsSync(path.join(cwd, 'meterflow.yaml'))) {
    source = path.join(cwd, 'meterflow.yaml');
  }
  if (source) {
    const text = fs.readFileSync(source, 'utf8');
    doc = parseDocument(text, { lineCounter, prettyErrors: true });
    if (doc.errors.length > 0) {
      throw new ConfigError(
        source,
        doc.errors.map((e) => `line ${e.linePos?.[0]?.line ?? '?'}: ${e.message.split('\n')[0]}`),
      );
    }
    raw = doc.toJS() ?? {};
    if (typeof raw !== 'object' || Array.isArray(raw))
      throw new ConfigError(source, ['the file must hold a mapping at the top level']);
  }

  const merged = applyEnvOverrides(raw as Record<string, unknown>, env);
  const result = MeterflowConfigSchema.safeParse(merged.value);
  if (!result.success) {
    const issues = result.error.issues.map((issue) => {
      const keyPath = issue.path.map(String);
      const fromEnv = merged.envKeys.get(keyPath.join('.'));
      const where = fromEnv
        ? `${fromEnv} (environment)`
        : doc
          ? lineOf(doc, lineCounter, keyPath)
          : undefined;
      const unknown = issue.code === 'unrecognized_keys' ? ` (${issue.keys.join(', ')})` : '';
      return `${keyPath.join('.') || '(top level)'}${where ? ` at ${where}` : ''}: ${issue.message}${unknown}`;
    });
    throw new ConfigError(source ?? 'environment and defaults', issues);
  }
  const config = result.data;
  if (config.local_stack) fillLocalStackDefaults(config);
  else requireRemoteSettings(config, source);
  registerConfigSecrets(config);
  return { config, source };
}

function lineOf(
  doc: ReturnType<typeof parseDocument>,
  lc: LineCounter,
  keyPath: string[],
): string | undefined {
  // Walk down as far as the path exists; report the deepest node found.
  let node: unknown = doc.contents;
  let found: Node | undefined;
  for (const key of keyPath) {
    if (isMap(node)) {
      const pair = node.items.find((p) => String((p.key as { value?: unknown })?.value ?? p.key) === key);
      if (!pair) break;
      found = (pair.key as Node) ?? found;
      node = pair.value;
      if (node && typeof node === 'object' && 'range' in node) found = pair.key as Node;
    } else if (isSeq(node)) {
      const item = node.items[Number(key)];
      if (!item) break;
      found = item as Node;
      node = item;
    } else break;
  }
  const offset = found?.range?.[0];
  if (offset === undefined) return undefined;
  return `line ${lc.linePos(offset).line}`;
}

interface Merged {
  value: Record<string, unknown>;
  envKeys: Map<string, string>;
}

export function applyEnvOverrides(base: Record<string, unknown>, env: NodeJS.ProcessEnv): Merged {
  const value = structuredClone(base);
  const envKeys = new Map<string, string>();
  for (const [name, text] of Object.entries(env)) {
    if (!name.startsWith('METERFLOW_') || name === 'METERFLOW_CONFIG' || text === undefined) continue;
    if (name.startsWith('METERFLOW_TEST_') || name === 'METERFLOW_CACHE_DIR') continue;
    const keyPath = name.slice('METERFLOW_'.length).toLowerCase().split('__').filter(Boolean);
    if (keyPath.length === 0) continue;
    let target = value as Record<string, unknown>;
    for (const key of keyPath.slice(0, -1)) {
      const next = target[key];
      if (!next || typeof next !== 'object' || Array.isArray(next)) target[key] = {};
      target = target[key] as Record<string, unknown>;
    }
    target[keyPath[keyPath.length - 1]] = text;
    envKeys.set(keyPath.join('.'), name);
  }
  return { value, envKeys };
}

export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.METERFLOW_CACHE_DIR) return env.METERFLOW_CACHE_DIR;
  const base = env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(base, 'meterflow');
}

function fillLocalStackDefaults(config: MeterflowConfig): void {
  const p = config.stack.ports;
  if (config.kafka.brokers.length === 0) config.kafka.brokers = [`127.0.0.1:${p.kafka}`];
  config.elasticsearch.node ??= `http://127.0.0.1:${p.elasticsearch}`;
  for (const p of COLLECTING_PROVIDERS) {
    (p.collector.useLocalStack as (section: unknown, stack: MeterflowConfig['stack']) => void)(
      config[p.name],
      config.stack,
    );
  }
}

function requireRemoteSettings(config: MeterflowConfig, source: string | undefined): void {
  const issues: string[] = [];
  if (config.kafka.brokers.length === 0) issues.push('kafka.brokers: required when local_stack is false');
  if (!config.elasticsearch.node) issues.push('elasticsearch.node: required when local_stack is false');
  if (issues.length) throw new ConfigError(source ?? 'environment and defaults', issues);
}

function registerConfigSecrets(config: MeterflowConfig): void {
  registerSecret(config.kafka.sasl?.password);
  registerSecret(config.elasticsearch.api_key);
  registerSecret(config.elasticsearch.password);
  registerSecret(config.stack.s3_secret_key);
  for (const p of COLLECTING_PROVIDERS) {
    const secrets = p.collector.secrets as (section: unknown) => Array<string | undefined>;
    for (const secret of secrets(config[p.name])) registerSecret(secret);
  }
}

/** Markdown reference of every option with its default, generated from the schema above. */
export function renderConfigDocs(): string {
  const json = z.toJSONSchema(MeterflowConfigSchema, { io: 'input', unrepresentable: 'any' }) as JsonSchema;
  const lines = [
    '# meterflow configuration reference',
    '',
    'Generated by `meterflow config docs` from `runtime/config.ts`; do not edit by hand.',
    'Every option can also be set from the environment: `METERFLOW_` + the path in upper case with `__` between levels',
    '(for example `METERFLOW_KAFKA__BROKERS=b1:9092,b2:9092`).',
    '',
    '| option | type | default | description |',
    '| --- | --- | --- | --- |',
  ];
  walk(json, '', lines, MeterflowConfigSchema.parse({}));
  return lines.join('\n') + '\n';
}

interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  items?: JsonSchema;
  description?: string;
  default?: unknown;
  enum?: unknown[];
  anyOf?: JsonSchema[];
}

// Defaults are read from the parsed empty config rather than the JSON schema, which drops the
// defaults of fields that preprocess text from the environment.
function walk(schema: JsonSchema, prefix: string, lines: string[], defaults: unknown): void {
  for (const [key, child] of Object.entries(schema.properties ?? {})) {
    const name = prefix ? `${prefix}.${key}` : key;
    const inner = child.anyOf?.find((s) => s.properties) ?? child;
    const childDefault =
      defaults && typeof defaults === 'object' ? (defaults as Record<string, unknown>)[key] : undefined;
    if (inner.properties) {
      if (child.description) lines.push(`| \`${name}\` | section | | ${child.description} |`);
      walk(inner, name, lines, childDefault);
      continue;
    }
    if (child.type === 'array' && child.items?.properties) {
      lines.push(`| \`${name}\` | list | \`[]\` | ${child.description ?? ''} |`);
      walk(child.items, `${name}[]`, lines, undefined);
      continue;
    }
    const type = child.enum ? child.enum.map((e) => `\`${String(e)}\``).join(' \\| ') : typeName(child);
    const shown = childDefault ?? child.default;
    const def = shown === undefined ? '' : `\`${JSON.stringify(shown)}\``;
    lines.push(`| \`${name}\` | ${type} | ${def} | ${(child.description ?? '').replace(/\|/g, '\\|')} |`);
  }
}

function typeName(s: JsonSchema): string {
  if (s.type === 'array') return `list of ${s.items ? typeName(s.items) : 'values'}`;
  if (Array.isArray(s.type)) return s.type.join(' or ');
  return s.type ?? (s.anyOf ? s.anyOf.map(typeName).join(' or ') : 'any');
}
