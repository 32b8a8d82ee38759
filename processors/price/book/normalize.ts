import type { z } from 'zod';
import { Decimal } from '../../../schemas/decimal';
import type { PriceBookSchema } from './schema';
import type { Customer, Plan, PlanCommon, PriceBook, PriceRule } from './types';

/**
 * From validated YAML to the PriceBook consumers read: defaults resolved (priority 0, match {},
 * customers '*', discount 0, period month, currencies from currency_default or the customer),
 * optional keys left out rather than set to undefined, and the whole book deep-frozen: one book
 * object is shared by everything that rates or invoices with it, so nothing may change it in
 * place.
 */

type ParsedBook = z.output<typeof PriceBookSchema>;

export function normalize(data: ParsedBook): PriceBook {
  const currencyDefault = data.currency_default ?? null;
  const customers: Record<string, Customer> = {};
  for (const [id, c] of Object.entries(data.customers ?? {})) {
    const customer: { -readonly [K in keyof Customer]: Customer[K] } = {};
    if (c.name !== undefined) customer.name = c.name;
    if (c.billing_currency !== undefined) customer.billing_currency = c.billing_currency;
    if (c.discount_percent !== undefined) customer.discount_percent = c.discount_percent;
    customers[id] = customer;
  }
  const rules = data.rules.map((r): PriceRule => {
    const common = {
      id: r.id,
      ...(r.description !== undefined ? { description: r.description } : {}),
      priority: r.priority ?? 0,
      effective_from: r.effective_from ?? null,
      effective_to: r.effective_to ?? null,
      match: r.match ?? {},
      customers: r.customers ?? '*',
      discount_percent: r.discount_percent ?? new Decimal(0),
    };
    switch (r.model) {
      case 'cost_plus':
        return { ...common, model: r.model, basis: r.basis, markup_percent: r.markup_percent };
      case 'per_unit':
        return {
          ...common,
          model: r.model,
          unit_price: r.unit_price,
          currency: (r.currency ?? currencyDefault)!,
        };
      case 'fixed_per_line':
        return { ...common, model: r.model, amount: r.amount, currency: (r.currency ?? currencyDefault)! };
    }
  });
  const plans = (data.plans ?? []).map((p): Plan => {
    const common: PlanCommon = {
      id: p.id,
      ...(p.description !== undefined ? { description: p.description } : {}),
      customer: p.customer,
      match: p.match ?? {},
      period: p.period ?? 'month',
      effective_from: p.effective_from ?? null,
      effective_to: p.effective_to ?? null,
      currency: p.currency ?? customers[p.customer]?.billing_currency ?? currencyDefault,
    };
    switch (p.model) {
      case 'graduated':
      case 'volume':
        return { ...common, model: p.model, tiers: p.tiers };
      case 'package':
        return { ...common, model: p.model, package_size: p.package_size, package_price: p.package_price };
      case 'minimum_commitment':
        return { ...common, model: p.model, minimum_amount: p.minimum_amount };
      case 'prepaid_credit':
        return { ...common, model: p.model, credit_amount: p.credit_amount };
    }
  });
  return deepFreeze({
    version: data.version,
    ...(data.description !== undefined ? { description: data.description } : {}),
    currency_default: currencyDefault,
    customers,
    exchange_rates: data.exchange_rates ?? [],
    rules,
    plans,
  });
}

export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Decimal.isDecimal(value) && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
