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

/** FOCUS 1.2's ServiceSubcategory values, by their one parent ServiceCategory. */
export const FOCUS_SERVICE_SUBCATEGORIES: Record<ServiceCategory, readonly string[]> = {
  'AI and Machine Learning': [
    'AI Platforms',
    'Bots',
    'Generative AI',
    'Machine Learning',
    'Natural Language Processing',
    'Other (AI and Machine Learning)',
  ],
  Analytics: [
    'Analytics Platforms',
    'Business Intelligence',
    'Data Processing',
    'Search',
    'Streaming Analytics',
    'Other (Analytics)',
  ],
  'Business Applications': ['Productivity and Collaboration', 'Other (Business Applications)'],
  Compute: [
    'Containers',
    'End User Computing',
    'Quantum Compute',
    'Serverless Compute',
    'Virtual Machines',
    'Other (Compute)',
  ],
  Databases: [
    'Caching',
    'Data Warehouses',
    'Ledger Databases',
    'NoSQL Databases',
    'Relational Databases',
    'Time Series Databases',
    'Other (Databases)',
  ],
  'Developer Tools': [
    'Developer Platforms',
    'Continuous Integration and Deployment',
    'Development Environments',
    'Source Code Management',
    'Quality Assurance',
    'Other (Developer Tools)',
  ],
  Identity: ['Identity and Access Management', 'Other (Identity)'],
  Integration: ['API Management', 'Messaging', 'Workflow Orchestration', 'Other (Integration)'],
  'Internet of Things': ['IoT Analytics', 'IoT Platforms', 'Other (Internet of Things)'],
  'Management and Governance': [
    'Architecture',
    'Compliance',
    'Cost Management',
    'Data Governance',
    'Disaster Recovery',
    'Endpoint Management',
    'Observability',
    'Support',
    'Other (Management and Governance)',
  ],
  Media: ['Content Creation', 'Gaming', 'Media Streaming', 'Mixed Reality', 'Other (Media)'],
  Migration: ['Data Migration', 'Resource Migration', 'Other (Migration)'],
  Mobile: ['Other (Mobile)'],
  Multicloud: ['Multicloud Integration', 'Other (Multicloud)'],
  Networking: [
    'Application Networking',
    'Content Delivery',
    'Network Connectivity',
    'Network Infrastructure',
    'Network Routing',
    'Network Security',
    'Other (Networking)',
  ],
  Security: [
    'Secret Management',
    'Security Posture Management',
    'Threat Detection and Response',
    'Other (Security)',
  ],
  Storage: [
    'Backup Storage',
    'Block Storage',
    'File Storage',
    'Object Storage',
    'Storage Platforms',
    'Other (Storage)',
  ],
  Web: ['Application Platforms', 'Other (Web)'],
  Other: ['Other (Other)'],
};

export const SERVICE_CATEGORIES_FILE = 'service-categories.csv';
export const SERVICE_SUBCATEGORIES_FILE = 'service-subcategories.csv';

export function serviceCategoriesPath(file = SERVICE_CATEGORIES_FILE): string {
  const candidates = [
    path.join(__dirname, file),
    path.join(__dirname, '..', '..', '..', 'processors', 'normalize', file),
  ];
  const found = candidates.find((p) => fs.existsSync(p));
  if (found === undefined) {
    throw new Error(`${file} not found (looked in ${candidates.join(', ')})`);
  }
  return found;
}

interface Table {
  exact: Map<string, ServiceCategory>;
  folded: Map<string, ServiceCategory>;
}

let tables: Map<string, Table> | undefined;

/** The rows of one of this folder's CSV tables (a header line, `#` comments). */
function readTable<T>(file: string): T[] {
  return parse(fs.readFileSync(serviceCategoriesPath(file), 'utf8'), {
    columns: true,
    comment: '#',
    skip_empty_lines: true,
    trim: true,
    bom: true,
  }) as T[];
}

function load(): Map<string, Table> {
  const rows = readTable<{ provider: string; service: string; category: string }>(SERVICE_CATEGORIES_FILE);
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

let subcategories: Map<string, string> | undefined;

function loadSubcategories(): Map<string, string> {
  const rows = readTable<{ provider: string; service: string; subcategory: string }>(
    SERVICE_SUBCATEGORIES_FILE,
  );
  const out = new Map<string, string>();
  for (const r of rows) out.set(`${r.provider.toLowerCase()}\u0000${r.service.toLowerCase()}`, r.subcategory);
  return out;
}

/**
 * The FOCUS ServiceSubcategory of a provider's service under `category` (the ServiceCategory the
 * record carries): the table's entry when it is a child of that category, else "Other (category)".
 */
export function serviceSubcategory(
  provider: string,
  service: string | null | undefined,
  category: ServiceCategory,
): string {
  subcategories ??= loadSubcategories();
  const listed =
    service === null || service === undefined
      ? undefined
      : subcategories.get(`${provider.toLowerCase()}\u0000${service.trim().toLowerCase()}`);
  return listed !== undefined && FOCUS_SERVICE_SUBCATEGORIES[category].includes(listed)
    ? listed
    : `Other (${category})`;
}

/** Number of entries per provider (for diagnostics and tests). */
export function serviceCategoryCounts(): Record<string, number> {
  tables ??= load();
  const out: Record<string, number> = {};
  for (const [p, t] of tables) out[p] = t.exact.size;
  return out;
}
