import { PassThrough } from 'node:stream';
import { createLogger } from '../../../runtime/logger';
import { redactText, redactValue, registerSecret, clearRegisteredSecrets } from '../../../runtime/redact';

afterEach(() => clearRegisteredSecrets());

describe('redaction', () => {
  it.each([
    [
      'https://admin:hunter2hunter2@es.example.com:9200/_bulk',
      'https://admin:[REDACTED]@es.example.com:9200/_bulk',
    ],
    [
      'GET https://b.s3.amazonaws.com/k?X-Amz-Credential=AKIAXYZ&X-Amz-Signature=abcdef0123',
      'GET https://b.s3.amazonaws.com/k?X-Amz-Credential=[REDACTED]&X-Amz-Signature=[REDACTED]',
    ],
    [
      'https://acct.blob.core.windows.net/c/b?sv=2022&sig=Zm9vYmFy%3D&se=x',
      'https://acct.blob.core.windows.net/c/b?sv=2022&sig=[REDACTED]&se=x',
    ],
    [
      'DefaultEndpointsProtocol=https;AccountName=a;AccountKey=bXlrZXk=;EndpointSuffix=core',
      'DefaultEndpointsProtocol=https;AccountName=a;AccountKey=[REDACTED];EndpointSuffix=core',
    ],
    ['authorization: ApiKey dGhpc2lzYXNlY3JldA==', 'authorization: ApiKey [REDACTED]'],
    ['{"secretAccessKey":"wJalrXUtnFEMI/K7MDENG"}', '{"secretAccessKey":"[REDACTED]"}'],
  ])('scrubs %s', (input, expected) => {
    expect(redactText(input)).toBe(expected);
  });

  it('masks registered secrets anywhere, and secret-named keys in objects', () => {
    registerSecret('p4ssw0rd-value');
    expect(
      redactValue({
        message: 'login with p4ssw0rd-value failed',
        password: 'anything',
        nested: { api_key: 'k' },
        user: 'bob',
      }),
    ).toEqual({
      message: 'login with [REDACTED] failed',
      password: '[REDACTED]',
      nested: { api_key: '[REDACTED]' },
      user: 'bob',
    });
  });

  it('leaves ordinary text alone', () => {
    expect(redactText('collector.aws: 1200 rows from s3://billing/cur/2026-11/part-1.csv.gz')).toBe(
      'collector.aws: 1200 rows from s3://billing/cur/2026-11/part-1.csv.gz',
    );
  });

  it('the logger never writes a secret: fields, messages, and error messages and stacks', () => {
    registerSecret('s3cr3t-token-123');
    const out = new PassThrough();
    const chunks: string[] = [];
    out.on('data', (c) => chunks.push(String(c)));
    const logger = createLogger({ level: 'info', component: 'test', destination: out });
    logger.info(
      { url: 'http://u:s3cr3t-token-123@host/x', account_key: 'abc' },
      'connecting with s3cr3t-token-123',
    );
    logger.error({ err: new Error('denied for token s3cr3t-token-123') }, 'failed');
    const text = chunks.join('');
    expect(text).not.toContain('s3cr3t-token-123');
    expect(text).not.toContain('"abc"');
    expect(text).toContain('[REDACTED]');
    const lines = text
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines[0]).toMatchObject({ level: 'info', component: 'test', msg: 'connecting with [REDACTED]' });
    expect(lines[1].err.message).toBe('denied for token [REDACTED]');
  });
});
