import { isAlias, isMap, isScalar, isSeq, parseDocument } from 'yaml';

/**
 * YAML -> plain values, keeping source text and lines: the parsed document becomes plain
 * objects, lists and strings for the schema to validate, together with the source offset of
 * every path, so that each problem can be reported at its line (issues.ts).
 */

/** Where a value sits in the document: map keys and list indexes from the top. */
export type Path = (string | number)[];
export const pathKey = (path: Path) => path.map(String).join('\u0000');

export interface Located {
  value: unknown;
  /** Offset of each path (map keys: the key; list items: the item). */
  offsets: Map<string, number>;
}

/**
 * Convert the YAML document to plain values. Scalars that YAML would type as numbers or
 * booleans are replaced by their source text, so decimals never go through a JS number.
 */
export function toPlain(doc: ReturnType<typeof parseDocument>): Located {
  const offsets = new Map<string, number>();
  const visit = (node: unknown, path: Path, depth: number): unknown => {
    if (depth > 64) return undefined;
    if (isAlias(node)) return visit(node.resolve(doc), path, depth + 1);
    if (isMap(node)) {
      const out: Record<string, unknown> = {};
      for (const pair of node.items) {
        const keyNode = pair.key;
        const key = isScalar(keyNode)
          ? typeof keyNode.value === 'string'
            ? keyNode.value
            : (keyNode.source ?? String(keyNode.value))
          : String(keyNode);
        const childPath = [...path, key];
        const start = isScalar(keyNode) ? keyNode.range?.[0] : undefined;
        if (start !== undefined) offsets.set(pathKey(childPath), start);
        // defineProperty: a "__proto__" key stays an ordinary (and then rejected) key.
        Object.defineProperty(out, key, {
          value: visit(pair.value, childPath, depth + 1),
          enumerable: true,
          writable: true,
          configurable: true,
        });
      }
      return out;
    }
    if (isSeq(node)) {
      return node.items.map((item, i) => {
        const start = (item as { range?: [number, number, number] } | null)?.range?.[0];
        if (start !== undefined) offsets.set(pathKey([...path, i]), start);
        return visit(item, [...path, i], depth + 1);
      });
    }
    if (isScalar(node)) {
      const v = node.value;
      if (v === null || v === undefined) return null;
      if (typeof v === 'string') return v;
      return node.source ?? String(v);
    }
    return node === null || node === undefined ? null : undefined;
  };
  return { value: visit(doc.contents, [], 0), offsets };
}

/** A mapping of the plain document (not a list, not null): what every section must be. */
export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
