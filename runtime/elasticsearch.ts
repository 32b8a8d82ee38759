import fs from 'node:fs';
import { Client, type ClientOptions } from '@elastic/elasticsearch';
import type { MeterflowConfig } from './config';

export function createElasticsearch(config: MeterflowConfig): Client {
  const es = config.elasticsearch;
  if (!es.node) throw new Error('elasticsearch.node is not set');
  const options: ClientOptions = {
    node: es.node,
    requestTimeout: es.request_timeout_ms,
    // Retries are ours (runtime/retry.ts and the sink's item-level retry), not the transport's.
    maxRetries: 0,
  };
  if (es.api_key) options.auth = { apiKey: es.api_key };
  else if (es.username && es.password) options.auth = { username: es.username, password: es.password };
  if (es.node.startsWith('https:')) {
    options.tls = {
      rejectUnauthorized: es.tls.reject_unauthorized,
      ca: es.tls.ca_file ? fs.readFileSync(es.tls.ca_file, 'utf8') : undefined,
      cert: es.tls.cert_file ? fs.readFileSync(es.tls.cert_file, 'utf8') : undefined,
      key: es.tls.key_file ? fs.readFileSync(es.tls.key_file, 'utf8') : undefined,
    };
  }
  return new Client(options);
}
