import fs from 'node:fs';
import { OPENAPI_FILE, type OpenApiDocument } from '../../api/openapi';

/**
 * The committed OpenAPI document (api/openapi.json), which the tests validate every API answer
 * against. Read here, not by the API's own modules: the built CLI (dist/) has no such file, and
 * the API serves the document it generates.
 */
export const openApiSpec = JSON.parse(fs.readFileSync(OPENAPI_FILE, 'utf8')) as OpenApiDocument;
