import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';

/**
 * Validates responses against the OpenAPI document with ajv: the response schemas are compiled
 * straight out of the spec (JSON Schema 2020-12, OpenAPI 3.1's dialect), by JSON pointer, so the
 * test checks exactly what the spec says. Used by the unit test (the spec compiles) and by the
 * integration test (every response it receives is checked).
 */
type Spec = {
  paths: Record<string, Record<string, { responses: Record<string, unknown> }>>;
  components: { responses: Record<string, unknown> };
};

type ResponseObject = { content?: Record<string, { schema?: unknown }> };

const SPEC_ID = 'https://meterflow.invalid/openapi.json';

// Top-level OpenAPI keywords: ajv must know them to accept the document in strict mode; they
// carry no validation (only the schemas under them do).
const OPENAPI_KEYWORDS = ['openapi', 'info', 'paths', 'components', 'security', 'servers', 'tags'];

const pointerSegment = (s: string) => encodeURIComponent(s.replace(/~/g, '~0').replace(/\//g, '~1'));

export interface ResponseValidator {
  /**
   * Throws unless the spec documents `status` for the operation and, for JSON responses, the body
   * matches its schema. Returns the documented media type.
   */
  check(
    method: string,
    template: string,
    status: number,
    contentType: string | undefined,
    body: unknown,
  ): string;
  /** Every documented JSON response schema, compiled (throws on the first that does not compile). */
  compileAll(): number;
}

export function createResponseValidator(spec: unknown): ResponseValidator {
  const doc = spec as Spec;
  const ajv = new Ajv2020({ allErrors: true, strict: true });
  addFormats(ajv);
  ajv.addVocabulary(OPENAPI_KEYWORDS);
  ajv.addSchema({ ...(spec as object), $id: SPEC_ID });
  const cache = new Map<string, ReturnType<typeof ajv.compile>>();

  const validatorAt = (pointer: string[]) => {
    const key = pointer.join('/');
    let v = cache.get(key);
    if (!v) {
      v = ajv.compile({ $ref: `${SPEC_ID}#/${pointer.map(pointerSegment).join('/')}` });
      cache.set(key, v);
    }
    return v;
  };

  /** The response object and the JSON pointer to it (following a components.responses $ref). */
  const responseAt = (method: string, template: string, status: number) => {
    const op = doc.paths[template]?.[method.toLowerCase()];
    if (!op) throw new Error(`spec has no operation ${method} ${template}`);
    const raw = op.responses[String(status)] as ResponseObject & { $ref?: string };
    if (!raw) throw new Error(`spec does not document status ${status} for ${method} ${template}`);
    if (raw.$ref) {
      const name = raw.$ref.replace('#/components/responses/', '');
      const resolved = doc.components.responses[name] as ResponseObject | undefined;
      if (!resolved) throw new Error(`dangling ${raw.$ref}`);
      return { response: resolved, pointer: ['components', 'responses', name] };
    }
    return { response: raw, pointer: ['paths', template, method.toLowerCase(), 'responses', String(status)] };
  };

  return {
    check(method, template, status, contentType, body) {
      const { response, pointer } = responseAt(method, template, status);
      const types = Object.keys(response.content ?? {});
      const actual = (contentType ?? '').split(';')[0].trim();
      if (!types.includes(actual)) {
        throw new Error(
          `${method} ${template} ${status}: content-type ${actual}, spec documents ${types.join(', ')}`,
        );
      }
      if (actual === 'application/json') {
        const validate = validatorAt([...pointer, 'content', 'application/json', 'schema']);
        if (!validate(body)) {
          throw new Error(
            `${method} ${template} ${status} does not match the spec: ${ajv.errorsText(validate.errors)}\n` +
              JSON.stringify(body).slice(0, 2000),
          );
        }
      }
      return actual;
    },
    compileAll() {
      let n = 0;
      for (const [template, item] of Object.entries(doc.paths)) {
        for (const [method, op] of Object.entries(item)) {
          for (const status of Object.keys(op.responses)) {
            const { response, pointer } = responseAt(method, template, Number(status));
            if (response.content?.['application/json']) {
              validatorAt([...pointer, 'content', 'application/json', 'schema']);
              n++;
            }
          }
        }
      }
      return n;
    },
  };
}
