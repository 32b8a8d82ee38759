import { z } from 'zod';
import { TlsSchema, num, str } from './config-schema';

/** The `elasticsearch:` section of meterflow.yaml. */
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
