import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

/**
 * A CA of our own and a server certificate for 127.0.0.1 / localhost signed by it, made once in
 * `certs` (the secured Elasticsearch node and the secured Kafka broker each have their own).
 */
export function localCertificates(certs: string): {
  ca: string;
  key: string;
  cert: string;
  keystore: string;
} {
  const files = {
    ca: path.join(certs, 'ca.crt'),
    key: path.join(certs, 'node.key'),
    cert: path.join(certs, 'node.crt'),
    keystore: path.join(certs, 'node.pem'),
  };
  if (fs.existsSync(files.cert)) return files;
  fs.mkdirSync(certs, { recursive: true });
  const ssl = (args: string[]) => execFileSync('openssl', args, { cwd: certs, stdio: 'ignore' });
  ssl(
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '3650',
      '-subj',
      '/CN=meterflow-local-ca',
    ].concat(['-keyout', 'ca.key', '-out', 'ca.crt']),
  );
  ssl([
    'req',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-subj',
    '/CN=127.0.0.1',
    '-keyout',
    'node.key',
    '-out',
    'node.csr',
  ]);
  fs.writeFileSync(path.join(certs, 'san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  ssl(
    [
      'x509',
      '-req',
      '-in',
      'node.csr',
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-days',
      '3650',
    ].concat(['-extfile', 'san.ext', '-out', 'node.crt']),
  );
  return files;
}
