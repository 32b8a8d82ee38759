import fs from 'node:fs';
import { LineCounter, parseDocument } from 'yaml';
import { PriceBookError } from '../errors';
import { crossChecks } from './cross-checks';
import { formatIssues, zodIssues } from './issues';
import { normalize } from './normalize';
import { PriceBookSchema } from './schema';
import type { PriceBook } from './types';
import { isRecord, toPlain } from './yaml';

/**
 * Loading a price book: YAML text (or a file) -> a validated PriceBook, or a PriceBookError
 * listing every problem found: YAML syntax errors first (nothing else can be checked then),
 * else the schema's problems and the cross-checks together.
 */

/** Parse and validate price-book YAML. Throws PriceBookError listing every problem. */
export function parsePriceBook(text: string, sourceName = 'price book'): PriceBook {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new PriceBookError(
      sourceName,
      doc.errors.map((e) => `${sourceName} line ${e.linePos?.[0]?.line ?? '?'}: ${e.message.split('\n')[0]}`),
    );
  }
  const located = toPlain(doc);
  const raw = located.value;
  if (!isRecord(raw))
    throw new PriceBookError(sourceName, [`${sourceName}: the file must hold a mapping at the top level`]);

  const result = PriceBookSchema.safeParse(raw, { reportInput: true });
  const issues = [...(result.success ? [] : zodIssues(result.error)), ...crossChecks(raw)];
  if (!result.success || issues.length > 0)
    throw new PriceBookError(sourceName, formatIssues(sourceName, raw, located, lc, issues));
  return normalize(result.data);
}

/** Read and validate a price-book file. Errors name the file as given. */
export function loadPriceBook(path: string): PriceBook {
  let text: string;
  try {
    text = fs.readFileSync(path, 'utf8');
  } catch (err) {
    throw new PriceBookError(path, [
      `${path}: cannot read the file (${(err as NodeJS.ErrnoException).code ?? String(err)})`,
    ]);
  }
  return parsePriceBook(text, path);
}
