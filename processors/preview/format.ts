import type { PriceBookDiff, UnratedRecords } from './shadow';

/**
 * `meterflow pricebook diff --format table`: the diff for a person, one row per customer,
 * currency and rule, then each customer's currency total, the records the candidate cannot price
 * and the grand totals. Amounts are the diff's exact text, right-aligned, never re-formatted.
 * `--format json` prints the PriceBookDiff itself (the API's answer).
 */

export const DIFF_FORMATS = ['table', 'json'] as const;
export type DiffFormat = (typeof DIFF_FORMATS)[number];

export function formatDiff(diff: PriceBookDiff, format: DiffFormat): string {
  return format === 'json' ? `${JSON.stringify(diff, null, 2)}\n` : formatDiffTable(diff);
}

function table(header: string[], rows: string[][], rightAligned: Set<number>): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (rightAligned.has(i) ? c.padStart(widths[i]) : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)];
}

function unratedLines(kind: string, customer: string, u: UnratedRecords): string[] {
  if (u.count === 0) return [];
  const out = [`${customer}: ${u.count} record(s) ${kind}`];
  for (const r of u.records)
    out.push(
      `  ${r.record_id}: was ${r.old_amount ?? '-'} ${r.old_currency ?? ''} under rule ${r.old_rule_id ?? '-'}; ${r.message}`,
    );
  if (u.count > u.records.length) out.push(`  ... and ${u.count - u.records.length} more`);
  return out;
}

export function formatDiffTable(diff: PriceBookDiff): string {
  const out = [
    `price book ${diff.book.version} (fingerprint ${diff.book.fingerprint.slice(0, 12)}) on the published usage of ` +
      `${diff.period}${diff.customer === null ? '' : ` for customer ${diff.customer}`}: ${diff.records} record(s); nothing published`,
    '',
  ];
  const rows: string[][] = [];
  for (const c of diff.customers)
    for (const cur of c.currencies) {
      for (const r of cur.rules)
        rows.push([
          c.customer,
          cur.currency,
          r.rule_id ?? '-',
          r.old,
          r.new,
          r.change,
          `${r.old_records}/${r.new_records}`,
        ]);
      rows.push([c.customer, cur.currency, '(customer total)', cur.old, cur.new, cur.change, '']);
    }
  if (rows.length === 0) out.push(`no published usage in ${diff.period}`);
  else
    out.push(
      ...table(
        ['customer', 'currency', 'rule', 'old', 'new', 'change', 'records old/new'],
        rows,
        new Set([3, 4, 5, 6]),
      ),
    );
  const unrated = diff.customers.flatMap((c) => [
    ...unratedLines('unpriced by the candidate (no rule; not in new)', c.customer, c.unpriced),
    ...unratedLines('the candidate cannot rate (not in new)', c.customer, c.failed),
    ...c.problems.map((p) => `${c.customer}: ${p}`),
  ]);
  if (unrated.length) out.push('', ...unrated);
  if (diff.totals.length) {
    out.push('');
    out.push(
      ...table(
        ['total', 'old', 'new', 'change'],
        diff.totals.map((t) => [t.currency, t.old, t.new, t.change]),
        new Set([1, 2, 3]),
      ),
    );
  }
  return `${out.join('\n')}\n`;
}
