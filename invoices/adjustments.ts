import { Decimal } from '../schemas/decimal';
import { rerateVersionOf } from '../schemas/revision-id';
import { addTo, cloudList, cloudMap, cmp, EMPTY_TRACE, line } from './lines';
import type { PeriodLines } from './period-lines';
import { formatAmount } from './rounding';
import { sortRevisions } from './trace';
import type { InvoiceDocument, InvoiceLine, InvoiceLineTrace } from './types';

/**
 * Adjustment lines for finalized earlier periods, on the invoice of `period`.
 *
 * For every FINALIZED invoice F of the customer for a period Q < P, and every line L that F carried
 * or that Q's usage yields now:
 *
 *   adjustment(L) = recomputed amount of L now - (F's amount of L + adjustments of (F, L) already
 *                   on FINALIZED invoices of later periods)
 *
 * and a line is produced only when that difference is not zero. Because only finalized invoices
 * enter the right-hand side, regenerating a draft gives the same adjustments, and once the invoice
 * carrying them is finalized the difference is zero. An adjustment belongs to the NEXT invoice: when
 * the customer has a draft for a period between Q and P, that draft carries it and P does not (finalize
 * checks drafts are not stale, see basis_finalized). Credits are not recomputed: a finalized period's
 * burn stands, and the adjustment is due (and credit-able) on the invoice that carries it. Amounts are
 * differences of rounded amounts, so they are already at the minor unit.
 */
export function computeAdjustments(args: {
  period: string;
  currency: string;
  invoices: InvoiceDocument[];
  recomputed: Record<string, PeriodLines>;
  problems: string[];
}): InvoiceLine[] {
  const { period, currency, invoices, problems } = args;
  const finalized = invoices.filter((i) => i.status === 'finalized');
  const drafts = invoices.filter((i) => i.status === 'draft' && i.period !== period);
  const out: InvoiceLine[] = [];
  for (const f of [...finalized].sort((a, b) => cmp(a.period, b.period))) {
    if (f.period >= period) continue;
    if (drafts.some((d) => d.period > f.period && d.period < period)) continue;
    const now = args.recomputed[f.period];
    if (!now) throw new RangeError(`no recomputed usage for finalized period ${f.period}`);
    if (now.currency !== null && now.currency !== f.currency) {
      problems.push(
        `finalized invoice ${f.invoice_id} is in ${f.currency} but its usage is now in ${now.currency}`,
      );
      continue;
    }
    if (f.currency !== currency) {
      problems.push(`finalized invoice ${f.invoice_id} is in ${f.currency}, this invoice in ${currency}`);
      continue;
    }
    const billedLines = new Map(
      f.lines.filter((l) => l.kind !== 'adjustment' && l.kind !== 'credit').map((l) => [l.line_id, l]),
    );
    const currentLines = new Map(now.lines.map((c) => [c.line.line_id, c.line]));
    const prior = finalized
      .filter((g) => g.period > f.period)
      .sort((a, b) => cmp(a.period, b.period))
      .flatMap((g) =>
        g.lines
          .filter((l) => l.kind === 'adjustment' && l.adjusts?.invoice_id === f.invoice_id)
          .map((l) => ({ invoice: g, line: l })),
      );
    // A line already adjusted once may since have vanished from both the invoice and the usage.
    const adjusted = prior.map((p) => p.line.adjusts!.line_id);
    const ids = [...new Set([...billedLines.keys(), ...currentLines.keys(), ...adjusted])].sort();
    for (const id of ids) {
      const billedLine = billedLines.get(id);
      const currentLine = currentLines.get(id);
      const priorLines = prior.filter((p) => p.line.adjusts?.line_id === id);
      const billed = priorLines.reduce((a, p) => a.plus(p.line.amount), new Decimal(billedLine?.amount ?? 0));
      const current = new Decimal(currentLine?.amount ?? 0);
      const diff = current.minus(billed);
      if (diff.isZero()) continue;
      const before = priorLines.length ? priorLines[priorLines.length - 1].line.trace : billedLine?.trace;
      const cloud = cloudMap(currentLine?.cloud_cost ?? []);
      for (const c of billedLine?.cloud_cost ?? []) addTo(cloud, c.currency, new Decimal(c.amount).negated());
      for (const p of priorLines)
        for (const c of p.line.cloud_cost) addTo(cloud, c.currency, new Decimal(c.amount).negated());
      const lastPrior = priorLines.length ? priorLines[priorLines.length - 1].line : undefined;
      const ref = currentLine ??
        billedLine ?? {
          // Only earlier adjustments know the line: take its description back out of theirs.
          description: lastPrior!.description.slice(lastPrior!.description.indexOf('): ') + 3),
          group: lastPrior!.group,
          plan_id: lastPrior!.plan_id,
        };
      out.push(
        line(
          {
            line_id: `adjustment:${f.period}:${id}`,
            kind: 'adjustment',
            description: `Adjustment of ${f.period} (invoice ${f.number ?? f.invoice_id}): ${ref.description}`,
            group: ref.group,
            plan_id: ref.plan_id,
            quantity: null,
            unit: null,
            cloud_cost: cloudList(cloud),
            trace: currentLine?.trace ?? EMPTY_TRACE,
            adjusts: {
              invoice_id: f.invoice_id,
              invoice_number: f.number,
              period: f.period,
              line_id: id,
              billed_amount: formatAmount(billed, currency),
              current_amount: formatAmount(current, currency),
              cause: causeText(f, before, currentLine?.trace),
            },
          },
          diff,
          currency,
        ),
      );
    }
  }
  return out;
}

function revText(revs: { scope: string; revision_id: string }[]): string {
  return revs.length ? revs.map((r) => `${r.scope}@${r.revision_id}`).join(', ') : 'none';
}

function causeText(f: InvoiceDocument, before?: InvoiceLineTrace, now?: InvoiceLineTrace): string {
  const was = sortRevisions(before?.revisions ?? []);
  const is = sortRevisions(now?.revisions ?? []);
  // A revision `meterflow pricebook rerate` wrote names the book version that re-priced it
  // (processors/rerate): the adjustment says which price-book change caused it.
  const billed = new Set(was.map((r) => r.revision_id));
  const versions = [
    ...new Set(
      is
        .filter((r) => !billed.has(r.revision_id))
        .map((r) => rerateVersionOf(r.revision_id))
        .filter((v): v is string => v !== undefined),
    ),
  ].sort();
  const rerated = versions.length
    ? `: re-rated with price book version ${versions.join(', ')} (pricebook rerate)`
    : '';
  const head = `usage of ${f.period} changed after invoice ${f.number ?? f.invoice_id} was finalized${rerated}`;
  if (revText(was) === revText(is))
    return `${head}: same revisions (${revText(is)}), recomputed amount differs (price book or plan change)`;
  return `${head}: billed from revisions ${revText(was)}, now ${revText(is)}`;
}
