import { Decimal, decimalToString } from '../schemas/decimal';
import { graduated, packages, volume } from '../processors/price/charge-models';
import type { PriceBook } from '../processors/price/price-book';
import { resolveCurrency } from './currency';
import { cloudList, cmp, line } from './lines';
import { counts, isQuantityPlan, planAmount, plansInEffect, type CountedLine } from './plans';
import { formatAmount, roundAmount } from './rounding';
import { mergeTraces, TraceAcc } from './trace';
import type { Acc, UsageSummary } from './usage';

/**
 * The lines a period owes by itself, steps 1 to 3 of the computation (compute.ts):
 *   1. usage lines, one per group, at their exact summed x_RatedCost;
 *   2. quantity plan lines (graduated, volume, package) pricing the period's summed PricingQuantity
 *      of the usage they cover; the covered usage stays as separate lines at amount 0, with its
 *      rated cost shown under included_in_plan;
 *   3. minimum commitment true-ups: minimum - (sum of the ROUNDED amounts of the lines it counts),
 *      one line when positive. Counting rounded amounts makes counted lines + true-up equal the
 *      minimum to the cent.
 * No credits and no adjustments: the same lines serve the invoice being generated and the
 * recomputation of finalized periods that adjustments compare against.
 */

export interface PeriodLines {
  currency: string | null;
  lines: CountedLine[];
  problems: string[];
}

function singleQuantity(acc: Acc): { quantity: string | null; unit: string | null } {
  if (acc.quantities.size !== 1) return { quantity: null, unit: null };
  const [[unit, q]] = [...acc.quantities.entries()];
  return { quantity: decimalToString(q), unit: unit === '' ? null : unit };
}

/**
 * Steps 1 to 3 for one period's usage summary. `fallbackCurrency` is the invoice currency when
 * neither the book nor the usage names one (compute.ts passes the currency of a finalized invoice).
 */
export function computePeriodLines(
  book: PriceBook,
  summary: UsageSummary,
  options: { max_trace_objects: number },
  fallbackCurrency: string | null = null,
): PeriodLines {
  const { currency, problems } = resolveCurrency(book, summary, fallbackCurrency);
  problems.push(...summary.problems);
  if (currency === null) {
    if (summary.lines.size > 0 || plansInEffect(book, summary.customer, summary.period).length > 0)
      problems.push(`no invoice currency for customer ${summary.customer}`);
    return { currency, lines: [], problems };
  }
  const max = options.max_trace_objects;
  const out: CountedLine[] = [];
  const groupLabel = (g: string | null) => g ?? `(no ${summary.groupBy})`;
  const usage = [...summary.lines.values()].sort((a, b) =>
    a.group === b.group ? cmp(a.coverPlan ?? '', b.coverPlan ?? '') : cmp(a.group ?? '', b.group ?? ''),
  );
  for (const acc of usage) {
    const common = {
      kind: 'usage' as const,
      group: acc.group,
      plan_id: acc.coverPlan,
      ...singleQuantity(acc),
      cloud_cost: cloudList(acc.cloud),
      trace: acc.trace.toTrace(max),
    };
    const l = acc.coverPlan
      ? line(
          {
            ...common,
            line_id: `usage:${groupLabel(acc.group)}:${acc.coverPlan}`,
            description: `${groupLabel(acc.group)} (included in plan ${acc.coverPlan})`,
            included_in_plan: formatAmount(roundAmount(acc.rated, currency), currency),
          },
          new Decimal(0),
          currency,
        )
      : line(
          { ...common, line_id: `usage:${groupLabel(acc.group)}`, description: groupLabel(acc.group) },
          acc.rated,
          currency,
        );
    // Covered lines are charged through their plan line; counting them again would double.
    out.push({ line: l, matchesAll: acc.coverPlan ? new Map() : acc.matchesAll });
  }

  const plans = plansInEffect(book, summary.customer, summary.period);
  for (const plan of plans) {
    const acc = summary.plans.get(plan.id);
    if (!acc || !isQuantityPlan(plan)) continue;
    const units = [...acc.quantities.keys()];
    if (units.length > 1) problems.push(`plan ${plan.id} covers several pricing units (${units.join(', ')})`);
    const quantity = [...acc.quantities.values()].reduce((a, b) => a.plus(b), new Decimal(0));
    if (quantity.isNegative() && !quantity.isZero()) {
      problems.push(`plan ${plan.id}: period quantity ${decimalToString(quantity)} is negative`);
      continue;
    }
    let charge: Decimal;
    if (plan.model === 'graduated') charge = graduated(quantity, plan.tiers);
    else if (plan.model === 'volume') charge = volume(quantity, plan.tiers);
    else if (plan.model === 'package') charge = packages(quantity, plan.package_size, plan.package_price);
    else continue;
    const l = line(
      {
        line_id: `plan:${plan.id}`,
        kind: 'plan',
        description: plan.description ?? `${plan.id} (${plan.model})`,
        group: null,
        plan_id: plan.id,
        quantity: decimalToString(quantity),
        unit: units.length === 1 && units[0] !== '' ? units[0] : null,
        cloud_cost: cloudList(acc.cloud),
        trace: acc.trace.toTrace(max),
      },
      planAmount(book, plan, charge, currency, summary.period, problems),
      currency,
    );
    out.push({ line: l, matchesAll: acc.matchesAll });
  }

  for (const plan of plans) {
    if (plan.model !== 'minimum_commitment') continue;
    const counted = out.filter((c) => counts(plan, c));
    const sum = counted.reduce((a, c) => a.plus(c.line.amount), new Decimal(0));
    const minimum = planAmount(book, plan, plan.minimum_amount, currency, summary.period, problems);
    const trueUp = minimum.minus(sum);
    if (!trueUp.isPositive() || trueUp.isZero()) continue;
    const trace = new TraceAcc();
    const l = line(
      {
        line_id: `commitment:${plan.id}`,
        kind: 'minimum_commitment',
        description:
          `${plan.description ?? `Minimum commitment ${plan.id}`}: minimum ${decimalToString(minimum)} ${currency}, ` +
          `counted ${decimalToString(sum)} ${currency}`,
        group: null,
        plan_id: plan.id,
        quantity: null,
        unit: null,
        trace: mergeTraces(
          counted.map((c) => c.line.trace),
          trace,
          max,
        ),
      },
      trueUp,
      currency,
    );
    out.push({ line: l, matchesAll: null });
  }
  return { currency, lines: out, problems };
}
