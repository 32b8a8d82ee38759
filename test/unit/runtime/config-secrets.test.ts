import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig, MeterflowConfigSchema } from '../../../runtime/config';
import { secretOptionPaths } from '../../../runtime/config-secrets';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meterflow-secrets-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

let n = 0;
function write(text: string): string {
  const file = path.join(dir, `config-${n++}.yaml`);
  fs.writeFileSync(file, text);
  return file;
}

describe('secrets by reference in meterflow.yaml', () => {
  it('finds every password, key, token and connection string of the schema', () => {
    const paths = secretOptionPaths(MeterflowConfigSchema);
    for (const p of [
      'kafka.sasl.password',
      'elasticsearch.api_key',
      'elasticsearch.password',
      'aws.secret_access_key',
      'aws.session_token',
      'azure.connection_string',
      'azure.account_key',
      'azure.sas_token',
      'stack.s3_secret_key',
    ])
      expect(paths).toContain(p);
    // A path to a key file and hashed API keys are no secrets to resolve.
    expect(paths).not.toContain('gcp.key_file');
    expect(paths.some((p) => p.startsWith('api.'))).toBe(false);
  });

  it('replaces ${VAR} with the environment variable, and $${ with a literal ${', () => {
    const file = write(
      'elasticsearch:\n  username: elastic\n  password: "${ES_PASSWORD}"\nkafka:\n  topic_prefix: "mf$${x}"\n',
    );
    const { config } = loadConfig({ path: file, env: { ES_PASSWORD: 's3cret-from-env' } });
    expect(config.elasticsearch.password).toBe('s3cret-from-env');
    expect(config.kafka.topic_prefix).toBe('mf${x}');
  });

  it('names the missing variable, the option and its line', () => {
    const file = write('kafka:\n  topic_prefix: mf\nelasticsearch:\n  password: ${ES_PASSWORD}\n');
    expect(() => loadConfig({ path: file, env: {} })).toThrow(
      /elasticsearch\.password at line 4: environment variable ES_PASSWORD is not set/,
    );
  });

  it('reads <secret>_file, relative to the configuration file, without its trailing newline', () => {
    fs.writeFileSync(path.join(dir, 'es-password'), 'from-a-file\n');
    const file = write('elasticsearch:\n  username: elastic\n  password_file: es-password\n');
    const { config } = loadConfig({ path: file, env: {} });
    expect(config.elasticsearch.password).toBe('from-a-file');
    expect(config.elasticsearch).not.toHaveProperty('password_file');
  });

  it('takes <SECRET>_FILE from a METERFLOW_ override too', () => {
    const secret = path.join(dir, 'sasl');
    fs.writeFileSync(secret, 'sasl-pass');
    const file = write('kafka:\n  sasl: { mechanism: scram-sha-512, username: mf }\n');
    const { config } = loadConfig({
      path: file,
      env: { METERFLOW_KAFKA__SASL__PASSWORD_FILE: secret },
    });
    expect(config.kafka.sasl?.password).toBe('sasl-pass');
  });

  it('names the file, the option and its line when the file cannot be read', () => {
    const file = write('kafka:\n  topic_prefix: mf\nelasticsearch:\n  api_key_file: /nonexistent/es-key\n');
    expect(() => loadConfig({ path: file, env: {} })).toThrow(
      /elasticsearch\.api_key_file at line 4: cannot read the secret file \/nonexistent\/es-key \(ENOENT\)/,
    );
  });

  it('refuses an option set both directly and through _file', () => {
    fs.writeFileSync(path.join(dir, 'k'), 'x');
    const file = write('elasticsearch:\n  api_key: abc\n  api_key_file: k\n');
    expect(() => loadConfig({ path: file, env: {} })).toThrow(/elasticsearch\.api_key is set too/);
  });

  it('still refuses _file on an option that is no secret', () => {
    const file = write('kafka:\n  topic_prefix_file: x\n');
    expect(() => loadConfig({ path: file, env: {} })).toThrow(/unrecognized key|topic_prefix_file/i);
  });
});
