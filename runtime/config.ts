import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LineCounter, parseDocument, isMap, isSeq, type Node } from 'yaml';
import { z } from 'zod';
import { ConfigError } from './errors';
import { bool } from './config-schema';
import { registerSecret } from './redact';
import { readSecretFiles, secretOptionPaths, substituteEnvReferences } from './config-secrets';
import { CollectorConfigSchema } from '../collectors/config';
import { ProcessorConfigSchema } from '../processors/config';
import { StackConfigSchema } from '../deploy/stack/config';
import { ElasticsearchConfigSchema } from './elasticsearch-config';
import { OpsConfigSchema } from './http-server';
import { KafkaConfigSchema } from './kafka-config';
import { NormalizeOptionsSchema } from '../processors/normalize/config';
import { SinkOptionsSchema } from '../sinks/elasticsearch/config';
import { InvoiceOptionsSchema } from '../invoices/config';
import { COLLECTING_PROVIDERS, type ProviderSections } from '../providers/registry';
import { ApiConfigSchema } from '../api/config';
import { EventsConfigSchema } from '../ingest/config';

/**
 * meterflow's configuration: one YAML file (meterflow.yaml) plus environment overrides.
 *
 * Each component defines its own section beside its code (collectors/config.ts, runtime/kafka.ts,
 * providers/<name>/config.ts, ...); this file assembles them into one schema, which is where every
 * option, its default and its meaning can be read; `meterflow config docs` renders it (docs/configuration.md is that rendering, checked by a test).
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
    allow_insecure: bool(
      'Start even with insecure settings (SASL PLAIN without TLS, credentials over http, certificates not verified, the API on a non-loopback address without TLS); each is then printed as a warning.',
    ).default(false),
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
    events: EventsConfigSchema.prefault({}).describe(
      'First-party usage events (POST /v1/events): ingest instance, late window, seals (docs/first-party-events.md).',
    ),
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
  /** Insecure settings accepted because allow_insecure is true; the CLI prints them. */
  warnings: string[];
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

  // Secrets by reference (runtime/config-secrets.ts): ${VAR} in the file, then <secret>_file.
  const fileDoc = doc;
  const locate = (keyPath: string[]) => (fileDoc ? lineOf(fileDoc, lineCounter, keyPath) : undefined);
  const referenceIssues = substituteEnvReferences(raw, env, locate);
  if (referenceIssues.length) throw new ConfigError(source ?? 'environment and defaults', referenceIssues);
  const merged = applyEnvOverrides(raw as Record<string, unknown>, env);
  const secretFileIssues = readSecretFiles(
    merged.value,
    secretOptionPaths(MeterflowConfigSchema),
    source ? path.dirname(source) : cwd,
    (keyPath) => {
      const fromEnv = merged.envKeys.get(keyPath.join('.'));
      return fromEnv ? `${fromEnv} (environment)` : locate(keyPath);
    },
  );
  if (secretFileIssues.length) throw new ConfigError(source ?? 'environment and defaults', secretFileIssues);
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
  else {
    requireRemoteSettings(config, source);
    applyClusterDefaults(config, merged.value);
  }
  const k = config.kafka;
  if (k.topic_min_insync_replicas > k.topic_replication_factor)
    throw new ConfigError(source ?? 'environment and defaults', [
      `kafka.topic_min_insync_replicas (${k.topic_min_insync_replicas}) exceeds kafka.topic_replication_factor (${k.topic_replication_factor}): no write could ever be acknowledged`,
    ]);
  registerConfigSecrets(config);
  const insecure = insecureSettings(config);
  if (insecure.length > 0 && !config.allow_insecure) {
    throw new ConfigError(
      source ?? 'environment and defaults',
      insecure.map((i) => `${i} (set allow_insecure: true to accept it)`),
    );
  }
  return { config, source, warnings: insecure.map((i) => `insecure setting accepted: ${i}`) };
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|localhost|::1|\[::1\])$/i;

/**
 * Settings that expose a secret or billing data on the network. A billing pipeline does not start
 * with them unless told to (allow_insecure), so a copied development config cannot reach
 * production unnoticed.
 */
export function insecureSettings(config: MeterflowConfig): string[] {
  const out: string[] = [];
  const k = config.kafka;
  if (k.sasl?.mechanism === 'plain' && !k.tls.enabled)
    out.push('kafka.sasl: PLAIN without kafka.tls.enabled sends the password in clear text');
  if (k.tls.enabled && !k.tls.reject_unauthorized)
    out.push("kafka.tls.reject_unauthorized: false accepts any broker's certificate");
  const es = config.elasticsearch;
  if (es.node !== undefined) {
    let url: URL | undefined;
    try {
      url = new URL(es.node);
    } catch {
      url = undefined;
    }
    const credentials = es.api_key !== undefined || es.password !== undefined;
    if (url?.protocol === 'http:' && credentials && !LOOPBACK.test(url.hostname))
      out.push(`elasticsearch.node: credentials sent over plain http to ${url.hostname}`);
  }
  if (!es.tls.reject_unauthorized)
    out.push("elasticsearch.tls.reject_unauthorized: false accepts any node's certificate");
  if (!LOOPBACK.test(config.api.host))
    out.push(
      `api.host: ${config.api.host} serves API keys and invoices without TLS (put a TLS proxy in front)`,
    );
  return out;
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

/**
 * Defaults that differ off the local stack, where Kafka and Elasticsearch are clusters: replicated
 * topics and indices unless the configuration says otherwise (the schema's defaults fit the local
 * stack's single broker and single node).
 */
function applyClusterDefaults(config: MeterflowConfig, given: Record<string, unknown>): void {
  const isSet = (section: string, key: string) =>
    (given[section] as Record<string, unknown> | undefined)?.[key] !== undefined;
  if (!isSet('kafka', 'topic_replication_factor')) config.kafka.topic_replication_factor = 3;
  if (!isSet('kafka', 'topic_min_insync_replicas'))
    config.kafka.topic_min_insync_replicas = Math.min(2, config.kafka.topic_replication_factor);
  if (!isSet('sink', 'replicas')) config.sink.replicas = 1;
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
  registerSecret(config.invoice.html_links.secret);
  registerSecret(config.invoice.notices.webhook_secret);
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
  lines.push(
    '',
    '## Secrets',
    '',
    'Any string in the file may reference an environment variable as `${NAME}` (`$${` writes a literal `${`);',
    'a variable that is not set stops meterflow with an error naming it and the option.',
    'Each secret option below also accepts `<option>_file`: the path of a file holding the value (for example',
    '`password_file: /run/secrets/es`; one trailing newline is dropped; a relative path is relative to the',
    'configuration file). Setting an option and its `_file` is an error.',
    '',
    ...secretOptionPaths(MeterflowConfigSchema).map((p) => `- \`${p}\` (or \`${p}_file\`)`),
  );
  return lines.join('\n') + '\n';
}

/** The parts of the config's JSON schema that the docs and the example config read. */
export interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  items?: JsonSchema;
  description?: string;
  default?: unknown;
  enum?: unknown[];
  anyOf?: JsonSchema[];
  required?: string[];
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
