import { createRequire } from 'node:module';

// pdf-parse's index runs a self-test when it thinks it is the main module; its library entry does not.
const load = createRequire(__filename);
const pdfParse = load('pdf-parse/lib/pdf-parse.js') as typeof import('pdf-parse');

/** The text of a PDF as a reader extracts it (pdf-parse over pdf.js), for asserting what a document says. */
export async function pdfText(pdf: Buffer): Promise<string> {
  try {
    return (await pdfParse(pdf)).text;
  } catch (err) {
    const e = err as { name?: string; message?: string; details?: string };
    throw new Error(`pdf-parse: ${e.name}: ${e.message} ${e.details ?? ''}`);
  }
}
