import fs from 'node:fs';
import { OPENAPI_FILE } from './openapi';
import { generateOpenApiDocument } from './server';

/**
 * The document the API generates from its routes, as JSON text: api/openapi.json is this,
 * formatted by prettier. `npx tsx api/openapi-document.ts` rewrites the file.
 */
export async function renderOpenApiSpec(): Promise<string> {
  return `${JSON.stringify(await generateOpenApiDocument(), null, 2)}\n`;
}

if (require.main === module) {
  void renderOpenApiSpec().then((text) => {
    fs.writeFileSync(OPENAPI_FILE, text);
    process.stdout.write(`wrote ${OPENAPI_FILE}\n`);
  });
}
