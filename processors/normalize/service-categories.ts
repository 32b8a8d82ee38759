import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'csv-parse/sync';

/**
 * FOCUS ServiceCategory lookup from service-categories.csv (provider, service, category), loaded
 * once on first use. The file ships next to the source; compiled code under
 * dist/processors/normalize falls back to the source folder.
 */

export const FOCUS_SERVICE_CATEGORIES = [
  'AI and Machine Learning',
  'Analytics',
  'Business Applications',
  'Compute',
  'Databases',
  'Developer Tools',
  'Multicloud',
  'Identity',
  'Integration',
  'Internet of Things',
  'Management and Governance',
  'Media',
  'Migration',
  'Mobile',
  'Networking',
  'Security',
  'Storage',
  'Web',
  'Other',
] as const;

export type ServiceCategory = (typeof FOCUS_SERVICE_CATEGORIES)[number];

const CATEGORY_SET: ReadonlySet<string> = new Set(FOCUS_SERVICE_CATEGORIES);

export function isServiceCategory(value: string): value is ServiceCategory {
  return CATEGORY_SET.has(value);
}

export const SERVICE_CATEGORIES_FILE = 'service-categories.csv';

export function serviceCategoriesPath(): string {
  const candidates = [
    path.join(__dirname, SERVICE_CATEGORIES_FILE),
    path.join(__dirname, '..', '..', '..', 'processors', 'normalize', SERVICE_CATEGORIES_FILE),
  ];
  const found = candidates.find((p) => fs.existsSync(p));
  if (found === undefined) {
    throw new Error(`${SERVICE_CATEGORIES_FILE} not found (looked in ${candidates.join(', ')})`);
  }
  return found;
}

interface Table {
  exact: Map<string, ServiceCategory>;
  folded: Map<string, ServiceCategory>;
}

let tables: Map<string, Table> | undefined;

function load(): Map<string, Table> {
  const text = fs.readFileSync(serviceCategoriesPath(), 'utf8');
  const rows = parse(text, {
    columns: true,
    comment: '#',
    skip_empty_lines: true,
    trim: true,
    bom: true,
  }) as Array<{ provider: string; service: string; category: string }>;
  const out = new Map<string, Table>();
  for (const r of rows) {
    if (!isServiceCategory(r.category)) {
      throw new Error(`${SERVICE_CATEGORIES_FILE}: "${r.category}" is not a FOCUS ServiceCategory`);
    }
    const provider = r.provider.toLowerCase();
    let t = out.get(provider);
    if (t === undefined) {
      t = { exact: new Map(), folded: new Map() };
      out.set(provider, t);
    }
    if (!t.exact.has(r.service)) t.exact.set(r.service, r.category);
    const folded = r.service.toLowerCase();
    if (!t.folded.has(folded)) t.folded.set(folded, r.category);
  }
  return out;
}

/** The FOCUS ServiceCategory of a provider's service; 'Other' when unknown. */
export function serviceCategory(provider: string, service: string | null | undefined): ServiceCategory {
  if (service === null || service === undefined || service.trim() === '') return 'Other';
  tables ??= load();
  const t = tables.get(provider.toLowerCase());
  if (t === undefined) return 'Other';
  const s = service.trim();
  return t.exact.get(s) ?? t.folded.get(s.toLowerCase()) ?? 'Other';
}

/** Number of entries per provider (for diagnostics and tests). */
export function serviceCategoryCounts(): Record<string, number> {
  tables ??= load();
  const out: Record<string, number> = {};
  for (const [p, t] of tables) out[p] = t.exact.size;
  return out;
}
