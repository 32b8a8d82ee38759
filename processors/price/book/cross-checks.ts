import { parseBookDate } from './fields';
import type { Issue } from './issues';
import { isRecord, type Path } from './yaml';

/**
 * Checks across fields and entries, made on the raw values so they are reported together with
 * the schema's own problems. Each check skips values the schema rejects anyway.
 */
export function crossChecks(raw: Record<string, unknown>): Issue[] {
  const issues: Issue[] = [];
  const customers = isRecord(raw.customers) ? raw.customers : {};
  const customerIds = new Set(Object.keys(customers));
  const currencyDefault = typeof raw.currency_default === 'string' ? raw.currency_default : undefined;

  const checkDates = (item: Record<string, unknown>, path: Path) => {
    const from = typeof item.effective_from === 'string' ? parseBookDate(item.effective_from) : undefined;
    const to = typeof item.effective_to === 'string' ? parseBookDate(item.effective_to) : undefined;
    if (from !== undefined && to !== undefined && to <= from)
      issues.push({ path: [...path, 'effective_to'], message: 'must be later than effective_from' });
  };
  const needsUnit = (item: Record<string, unknown>, path: Path, what: string) => {
    const unit = isRecord(item.match) ? item.match.PricingUnit : undefined;
    if (unit === undefined || unit === '*')
      issues.push({
        path: [...path, 'match', 'PricingUnit'],
        message: `${what} must match PricingUnit, so that a price per unit is never applied to another unit`,
      });
  };
  const duplicates = (list: unknown[], section: string, kind: string) => {
    const seen = new Map<string, number>();
    list.forEach((item, i) => {
      if (!isRecord(item) || typeof item.id !== 'string') return;
      const first = seen.get(item.id);
      if (first === undefined) seen.set(item.id, i);
      else
        issues.push({
          path: [section, i, 'id'],
          message: `duplicate ${kind} id "${item.id}" (also ${kind} #${first + 1})`,
        });
    });
  };

  const rules = Array.isArray(raw.rules) ? raw.rules : [];
  duplicates(rules, 'rules', 'rule');
  rules.forEach((rule, i) => {
    if (!isRecord(rule)) return;
    const path: Path = ['rules', i];
    checkDates(rule, path);
    const refs = typeof rule.customers === 'string' ? [rule.customers] : rule.customers;
    if (Array.isArray(refs))
      refs.forEach((ref) => {
        if (typeof ref === 'string' && ref !== '*' && !customerIds.has(ref))
          issues.push({
            path: [...path, 'customers'],
            message: `customer "${ref}" is not defined under customers`,
          });
      });
    if (rule.model === 'per_unit') needsUnit(rule, path, 'a per_unit rule');
    if (
      (rule.model === 'per_unit' || rule.model === 'fixed_per_line') &&
      rule.currency === undefined &&
      !currencyDefault
    )
      issues.push({
        path: [...path, 'currency'],
        message: 'required when the book sets no currency_default',
      });
  });

  const rates = Array.isArray(raw.exchange_rates) ? raw.exchange_rates : [];
  const seenRates = new Map<string, number>();
  rates.forEach((rate, i) => {
    if (!isRecord(rate) || typeof rate.from !== 'string' || typeof rate.to !== 'string') return;
    if (rate.from === rate.to)
      issues.push({ path: ['exchange_rates', i, 'to'], message: 'must differ from `from`' });
    const at = typeof rate.effective_from === 'string' ? parseBookDate(rate.effective_from) : undefined;
    if (at === undefined) return;
    const key = `${rate.from}>${rate.to}@${at}`;
    const first = seenRates.get(key);
    if (first === undefined) seenRates.set(key, i);
    else
      issues.push({
        path: ['exchange_rates', i],
        message: `a ${rate.from}->${rate.to} rate from the same date is already exchange_rates[${first}]`,
      });
  });

  const plans = Array.isArray(raw.plans) ? raw.plans : [];
  duplicates(plans, 'plans', 'plan');
  plans.forEach((plan, i) => {
    if (!isRecord(plan)) return;
    const path: Path = ['plans', i];
    checkDates(plan, path);
    if (typeof plan.customer === 'string' && !customerIds.has(plan.customer))
      issues.push({
        path: [...path, 'customer'],
        message: `customer "${plan.customer}" is not defined under customers`,
      });
    if (plan.model === 'graduated' || plan.model === 'volume' || plan.model === 'package')
      needsUnit(plan, path, `a ${String(plan.model)} plan`);
    if (plan.model === 'prepaid_credit' && plan.effective_from === undefined)
      issues.push({
        path: [...path, 'effective_from'],
        message: 'required for prepaid_credit (when the credit is granted)',
      });
    const customer = typeof plan.customer === 'string' ? customers[plan.customer] : undefined;
    const customerCurrency = isRecord(customer) ? customer.billing_currency : undefined;
    if (plan.currency === undefined && customerCurrency === undefined && !currencyDefault)
      issues.push({
        path: [...path, 'currency'],
        message: 'required when neither the customer billing_currency nor currency_default is set',
      });
  });
  return issues;
}
