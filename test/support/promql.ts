import { createRequire } from 'node:module';

// An ES module with a CommonJS build ("require" export): loaded with require, typed from its ESM types.
type LezerPromql = typeof import('@prometheus-io/lezer-promql', { with: { 'resolution-mode': 'import' } });
const { parser } = createRequire(__filename)('@prometheus-io/lezer-promql') as LezerPromql;

/**
 * The metric names a PromQL expression selects, with Prometheus's own grammar (the one its web UI
 * uses): the name of every vector or range selector, and `{__name__="..."}` matchers. Functions,
 * aggregations, label names and label values are not names. An expression that does not parse is
 * an error, so a typo cannot hide a name.
 */
export function metricNamesOf(expr: string): string[] {
  const tree = parser.parse(expr);
  const names = new Set<string>();
  let error: number | undefined;
  tree.iterate({
    enter(node) {
      if (node.type.isError) error ??= node.from;
      if (node.name === 'Identifier' && node.node.parent?.name === 'VectorSelector')
        names.add(expr.slice(node.from, node.to));
      if (node.name === 'UnquotedLabelMatcher' || node.name === 'QuotedLabelMatcher') {
        const text = expr.slice(node.from, node.to);
        const byName = /^\s*"?__name__"?\s*=\s*"([^"]+)"\s*$/.exec(text);
        if (byName) names.add(byName[1]);
      }
    },
  });
  if (error !== undefined)
    throw new Error(`PromQL does not parse at character ${error}: ${expr.slice(error, error + 40)}`);
  return [...names].sort();
}

/**
 * The metric names a /metrics page (Prometheus text format) exports: every family its `# TYPE`
 * lines declare, with a histogram's _bucket/_sum/_count and a summary's _sum/_count series, and
 * every sample's name. A labelled family is declared before its first sample exists.
 */
export function exportedMetricNames(exposition: string): Set<string> {
  const names = new Set<string>();
  for (const line of exposition.split('\n')) {
    const type = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (\w+)/.exec(line);
    if (type) {
      const [, name, kind] = type;
      names.add(name);
      if (kind === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(name + s);
      if (kind === 'summary') for (const s of ['_sum', '_count']) names.add(name + s);
      continue;
    }
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)[{ ]/.exec(line);
    if (sample) names.add(sample[1]);
  }
  return names;
}

/** The samples of metric `name` on a /metrics page (Prometheus text format), with their labels. */
export function samplesOf(
  exposition: string,
  name: string,
): Array<{ labels: Record<string, string>; value: number }> {
  const out: Array<{ labels: Record<string, string>; value: number }> = [];
  for (const line of exposition.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const labels = Object.fromEntries(
      [...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]),
    );
    out.push({ labels, value: Number(m[3]) });
  }
  return out;
}
