import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig, renderConfigDocs } from '../../../runtime/config';
import { ConfigError } from '../../../runtime/errors';
import { redactText, clearRegisteredSecrets } from '../../../runtime/redact';

function tmpDir(files: Record<string, string> = {}): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meterflow-config-'));
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text);
  return dir;
}

afterEach(() => clearRegisteredSecrets());

describe('loadConfig', () => {
  it('with no file targets the local stack', () => {
    const { config, source } = loadConfig({ cwd: tmpDir(), env: {} });
    expect(source).toBeUndefined();
    expect(config.kafka.brokers).toEqual(['127.0.0.1:9092']);
    expect(config.elasticsearch.node).toBe('http://127.0.0.1:9200');
    expect(config.aws.endpoint).toBe('http://127.0.0.1:9000');
    expect(config.aws.force_path_style).toBe(true);
    expect(config.gcp.endpoint).toBe('http://127.0.0.1:4443');
    expect(config.azure.connection_string).toContain('BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1');
  });

  it('local endpoints follow configured stack ports', () => {
    const dir = tmpDir({
      'meterflow.yaml': 'stack:\n  ports:\n    kafka: 19092\n    elasticsearch: 19200\n',
    });
    const { config } = loadConfig({ cwd: dir, env: {} });
    expect(config.kafka.brokers).toEqual(['127.0.0.1:19092']);
    expect(config.elasticsearch.node).toBe('http://127.0.0.1:19200');
  });

  it('environment variables override the file, with types parsed from text', () => {
    const dir = tmpDir({
      'meterflow.yaml': 'kafka:\n  brokers: [file-broker:9092]\n  topic_partitions: 6\n',
    });
    const { config } = loadConfig({
      cwd: dir,
      env: {
        METERFLOW_KAFKA__BROKERS: 'b1:9092, b2:9092',
        METERFLOW_KAFKA__TOPIC_PARTITIONS: '12',
        METERFLOW_KAFKA__TLS__ENABLED: 'true',
      },
    });
    expect(config.kafka.brokers).toEqual(['b1:9092', 'b2:9092']);
    expect(config.kafka.topic_partitions).toBe(12);
    expect(config.kafka.tls.enabled).toBe(true);
  });

  it('reports every problem at once, with the line in the file', () => {
    const dir = tmpDir({
      'meterflow.yaml': [
        'kafka:',
        '  brokers: [a:1]',
        '  topic_partitions: -3',
        'elasticsearch:',
        '  nod: http://x',
        'log:',
        '  level: loud',
        '',
      ].join('\n'),
    });
    let error: ConfigError | undefined;
    try {
      loadConfig({ cwd: dir, env: {} });
    } catch (e) {
      error = e as ConfigError;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect(error!.issues).toHaveLength(3);
    expect(error!.issues.find((i) => i.startsWith('kafka.topic_partitions'))).toContain('line 3');
    expect(error!.issues.find((i) => i.startsWith('elasticsearch'))).toMatch(/line 4.*nod/);
    expect(error!.issues.find((i) => i.startsWith('log.level'))).toContain('line 7');
    expect(error!.message).toContain(path.join(dir, 'meterflow.yaml'));
  });

  it('names the environment variable when an override is invalid', () => {
    expect(() => loadConfig({ cwd: tmpDir(), env: { METERFLOW_STACK__PORTS__KAFKA: 'not-a-port' } })).toThrow(
      /METERFLOW_STACK__PORTS__KAFKA \(environment\)/,
    );
  });

  it('reports YAML syntax errors with their line', () => {
    const dir = tmpDir({ 'meterflow.yaml': 'kafka:\n  brokers: [a\n  client_id: x\n' });
    expect(() => loadConfig({ cwd: dir, env: {} })).toThrow(/line \d/);
  });

  it('an explicit file that does not exist is an error', () => {
    expect(() => loadConfig({ cwd: tmpDir(), env: {}, path: 'missing.yaml' })).toThrow(
      /missing\.yaml[\s\S]*file not found/,
    );
  });

  it('requires brokers and node when the local stack is off', () => {
    const dir = tmpDir({ 'meterflow.yaml': 'local_stack: false\n' });
    expect(() => loadConfig({ cwd: dir, env: {} })).toThrow(/kafka\.brokers[\s\S]*elasticsearch\.node/);
  });

  it('replicates topics and indices off the local stack, unless told otherwise', () => {
    const remote =
      'local_stack: false\nkafka:\n  brokers: [kafka.prod:9092]\nelasticsearch:\n  node: https://es.prod:9200\n';
    const cluster = loadConfig({ cwd: tmpDir({ 'meterflow.yaml': remote }), env: {} }).config;
    expect([cluster.kafka.topic_replication_factor, cluster.kafka.topic_min_insync_replicas]).toEqual([3, 2]);
    expect(cluster.sink.replicas).toBe(1);
    const local = loadConfig({ cwd: tmpDir(), env: {} }).config;
    expect([local.kafka.topic_replication_factor, local.kafka.topic_min_insync_replicas]).toEqual([1, 1]);
    expect(local.sink.replicas).toBe(0);
    expect(local.kafka.topic_retention_days).toMatchObject({ raw: 30, rated: 400, audit: 0 });
    // Stated values win, from the file or the environment.
    const stated = loadConfig({
      cwd: tmpDir({ 'meterflow.yaml': `${remote}sink:\n  replicas: 2\n` }),
      env: { METERFLOW_KAFKA__TOPIC_REPLICATION_FACTOR: '5' },
    }).config;
    expect([stated.kafka.topic_replication_factor, stated.kafka.topic_min_insync_replicas]).toEqual([5, 2]);
    expect(stated.sink.replicas).toBe(2);
    expect(() =>
      loadConfig({ cwd: tmpDir({ 'meterflow.yaml': 'kafka:\n  topic_min_insync_replicas: 2\n' }), env: {} }),
    ).toThrow(/topic_min_insync_replicas \(2\) exceeds kafka.topic_replication_factor \(1\)/);
  });

  it('registers secrets so they are masked anywhere they appear', () => {
    const dir = tmpDir({ 'meterflow.yaml': 'elasticsearch:\n  api_key: c2VjcmV0LWFwaS1rZXktdmFsdWU=\n' });
    loadConfig({ cwd: dir, env: {} });
    expect(redactText('request failed with key c2VjcmV0LWFwaS1rZXktdmFsdWU= in header')).toBe(
      'request failed with key [REDACTED] in header',
    );
  });
});

describe('insecure settings', () => {
  const remote = {
    METERFLOW_LOCAL_STACK: 'false',
    METERFLOW_KAFKA__BROKERS: 'kafka.prod:9092',
    METERFLOW_ELASTICSEARCH__NODE: 'http://es.prod:9200',
  };

  it('refuses them all at once, each naming the setting, unless allow_insecure is set', () => {
    const env = {
      ...remote,
      METERFLOW_ELASTICSEARCH__API_KEY: 'c2VjcmV0',
      METERFLOW_KAFKA__SASL__MECHANISM: 'plain',
      METERFLOW_KAFKA__SASL__USERNAME: 'meterflow',
      METERFLOW_KAFKA__SASL__PASSWORD: 'pw',
      METERFLOW_ELASTICSEARCH__TLS__REJECT_UNAUTHORIZED: 'false',
      METERFLOW_API__HOST: '0.0.0.0',
    };
    let err: unknown;
    try {
      loadConfig({ cwd: tmpDir(), env });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const issues = (err as ConfigError).issues.join('\n');
    expect(issues).toContain('kafka.sasl: PLAIN without kafka.tls.enabled');
    expect(issues).toContain('elasticsearch.node: credentials sent over plain http to es.prod');
    expect(issues).toContain('elasticsearch.tls.reject_unauthorized: false');
    expect(issues).toContain('api.host: 0.0.0.0');
    expect(issues).toContain('allow_insecure: true');

    const accepted = loadConfig({ cwd: tmpDir(), env: { ...env, METERFLOW_ALLOW_INSECURE: 'true' } });
    expect(accepted.warnings).toHaveLength(4);
    expect(accepted.warnings[0]).toMatch(/^insecure setting accepted: kafka\.sasl/);
  });

  it('accepts TLS, https with credentials, and the local stack on loopback', () => {
    const secure = loadConfig({
      cwd: tmpDir(),
      env: {
        ...remote,
        METERFLOW_ELASTICSEARCH__NODE: 'https://es.prod:9200',
        METERFLOW_ELASTICSEARCH__API_KEY: 'c2VjcmV0',
        METERFLOW_KAFKA__TLS__ENABLED: 'true',
        METERFLOW_KAFKA__SASL__MECHANISM: 'plain',
        METERFLOW_KAFKA__SASL__USERNAME: 'meterflow',
        METERFLOW_KAFKA__SASL__PASSWORD: 'pw',
      },
    });
    expect(secure.warnings).toEqual([]);
    const local = loadConfig({ cwd: tmpDir(), env: { METERFLOW_ELASTICSEARCH__API_KEY: 'c2VjcmV0' } });
    expect(local.warnings).toEqual([]);
  });
});

describe('configuration reference', () => {
  it('docs/configuration.md is the current rendering of the schema', () => {
    const committed = fs.readFileSync(path.join(__dirname, '../../../docs/configuration.md'), 'utf8');
    expect(committed).toBe(renderConfigDocs());
  });

  it('documents every option with a description', () => {
    const rows = renderConfigDocs()
      .split('\n')
      .filter((l) => l.startsWith('| `'));
    expect(rows.length).toBeGreaterThan(40);
    for (const row of rows) expect(row.split(/(?<!\\)\|/)[4].trim()).not.toBe(''); // \| is a pipe inside a cell
  });
});
