import fs from 'node:fs';
import path from 'node:path';
import { ApiErrorCodes } from '../../../api/errors';
import { renderOpenApiSpec } from '../../../api/openapi-document';
import { createResponseValidator } from './openapi-validator';
import { openApiSpec } from '../../support/openapi';

const COMMITTED = path.join(__dirname, '../../../api/openapi.json');

describe('OpenAPI document', () => {
  it('the committed api/openapi.json is what the API generates from its routes', async () => {
    // Regenerate: npx tsx api/openapi-document.ts && npx prettier --write api/openapi.json
    expect(JSON.parse(fs.readFileSync(COMMITTED, 'utf8'))).toEqual(openApiSpec);
    expect(JSON.parse(await renderOpenApiSpec())).toEqual(openApiSpec);
  });

  it('every JSON response schema compiles with ajv (strict) and rejects a wrong body', () => {
    const v = createResponseValidator(openApiSpec);
    expect(v.compileAll()).toBeGreaterThan(30);
    expect(() => v.check('GET', '/healthz', 200, 'application/json', { status: 'ok' })).not.toThrow();
    expect(() => v.check('GET', '/healthz', 200, 'application/json', { status: 'ok', extra: 1 })).toThrow();
    expect(() => v.check('GET', '/healthz', 418, 'application/json', {})).toThrow('does not document');
    const usage = {
      customer: 'acme',
      from: '2025-01-01',
      to: '2025-02-01',
      group_by: 'service',
      record_count: 1,
      unrated_record_count: 0,
      groups: [{ key: 'EC2', currency: 'USD', amount: '0.1', record_count: 1 }],
      totals: [{ currency: 'USD', amount: '0.1', record_count: 1 }],
    };
    const template = '/v1/customers/{customer}/usage';
    expect(() => v.check('GET', template, 200, 'application/json', usage)).not.toThrow();
    // Amounts are decimal text, never JSON numbers or exponent notation.
    const numeric = { ...usage, totals: [{ currency: 'USD', amount: 0.1, record_count: 1 }] };
    expect(() => v.check('GET', template, 200, 'application/json', numeric)).toThrow('amount');
    const exponent = { ...usage, totals: [{ currency: 'USD', amount: '1e-7', record_count: 1 }] };
    expect(() => v.check('GET', template, 200, 'application/json', exponent)).toThrow('amount');
  });

  it('documents 401 and 429 on every keyed route, no auth on the open routes, and every error code', () => {
    const open = ['/healthz', '/readyz', '/openapi.json'];
    const operations = Object.entries(openApiSpec.paths).flatMap(([template, item]) =>
      Object.values(item as Record<string, { security?: unknown[]; responses: Record<string, unknown> }>).map(
        (op) => [template, op] as const,
      ),
    );
    expect(operations.map(([template]) => template)).toContain('/v1/pricebook/diff');
    for (const [template, op] of operations) {
      if (open.includes(template)) expect(op.security).toEqual([]);
      else if (template === '/metrics') {
        expect(op.security).toBeUndefined();
        expect(Object.keys(op.responses).sort()).toEqual(['200', '401', '403']);
      } else {
        expect(op.security).toBeUndefined();
        expect(Object.keys(op.responses)).toEqual(
          expect.arrayContaining(['200', '400', '401', '429', '500', '503']),
        );
      }
    }
    const error = (openApiSpec.components.schemas.Error.properties as Record<string, unknown>).error as {
      properties: { code: { enum: string[] } };
    };
    expect(error.properties.code.enum).toEqual(Object.values(ApiErrorCodes));
  });
});
