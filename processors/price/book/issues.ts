import type { LineCounter } from 'yaml';
import type { z } from 'zod';
import { isRecord, pathKey, type Located, type Path } from './yaml';

/**
 * Problems found in a price book, and how they are reported: each names the file, the line and
 * the rule, plan or customer it is in, so a person can find it without counting list items.
 * Schema problems (zodIssues) and cross-checks (cross-checks.ts) are collected as Issues and
 * formatted together, in line order, so one run reports every problem at once.
 */

export interface Issue {
  path: Path;
  message: string;
}

export function formatIssues(
  source: string,
  raw: unknown,
  located: Located,
  lc: LineCounter,
  issues: Issue[],
) {
  const rows = issues.map((issue) => {
    let offset: number | undefined;
    for (let n = issue.path.length; n >= 0 && offset === undefined; n--)
      offset = located.offsets.get(pathKey(issue.path.slice(0, n)));
    const line = offset === undefined ? undefined : lc.linePos(offset).line;
    const { owner, rest } = ownerOf(raw, issue.path);
    const where = [line !== undefined ? `${source} line ${line}` : source, owner].filter(Boolean).join(', ');
    const field = formatPath(rest);
    return { line: line ?? 0, text: `${where}: ${field ? `${field}: ` : ''}${issue.message}` };
  });
  rows.sort((a, b) => a.line - b.line);
  return [...new Set(rows.map((r) => r.text))];
}

function formatPath(path: Path): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out ? `.${p}` : p;
  return out;
}

function ownerOf(raw: unknown, path: Path): { owner?: string; rest: Path } {
  const [section, index] = path;
  const root = isRecord(raw) ? raw : {};
  if ((section === 'rules' || section === 'plans') && typeof index === 'number') {
    const list = root[section];
    const item = Array.isArray(list) ? list[index] : undefined;
    const id = isRecord(item) && typeof item.id === 'string' ? item.id : undefined;
    const kind = section === 'rules' ? 'rule' : 'plan';
    if (!id) return { owner: `${kind} #${index + 1}`, rest: path.slice(2) };
    const shared = Array.isArray(list) && list.filter((x) => isRecord(x) && x.id === id).length > 1;
    return { owner: `${kind} "${id}"${shared ? ` (#${index + 1})` : ''}`, rest: path.slice(2) };
  }
  if (section === 'customers' && typeof index === 'string')
    return { owner: `customer "${index}"`, rest: path.slice(2) };
  return { rest: path };
}

export function zodIssues(error: z.ZodError): Issue[] {
  const out: Issue[] = [];
  for (const issue of error.issues) {
    const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) out.push({ path: [...path, key], message: `unknown key "${key}"` });
    } else if (
      issue.code === 'invalid_union' &&
      (issue as { note?: string }).note === 'No matching discriminator'
    ) {
      const options = (issue as { options?: unknown[] }).options ?? [];
      const owner = path.slice(0, -1);
      out.push({
        path: owner.length ? [...owner, 'model'] : path,
        message: `expected one of ${options.map(String).join(', ')}`,
      });
    } else if (issue.code === 'invalid_type' && issue.input === undefined) {
      out.push({ path, message: 'required' });
    } else {
      out.push({ path, message: issue.message });
    }
  }
  return out;
}
