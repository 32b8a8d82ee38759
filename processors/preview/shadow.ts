import { Decimal, decimalToString, parseDecimal } from '../../schemas/decimal';
import type { UsageRecord } from '../../schemas/types.generated';
import { DeadLetterReasons } from '../../runtime/errors';
import type { PriceBook } from '../price/price-book';
import { rateRecord, type RateFailureReason } from '../price/rate';

/**
 * Shadow rating: what a candidate price book would change, computed from records that are already
 * rated, without publishing anything. Pure: records in, a diff out; the caller reads the records
 * (published-usage.ts) and prints or serves the diff.
 *
 * Each record is rated again with `rateRecord` (processors/price/rate.ts), the function the price
 * stage itself calls, so the preview cannot disagree with what the stage would produce with the
 * same book. Per customer, currency and price rule:
 *
 *   old     the record's indexed x_RatedCost, summed exactly, under the rule that priced it
 *           (x_PriceRuleId, as the price stage recorded it)
 *   new     the candidate book's rated amount, summed exactly, under the candidate rule that
 *           prices the record
 *   change  new - old
 *
 * A record moves between rows when the candidate prices it with another rule (or in another
 * currency), so each side is summed under its own rule: a rule only the old book has shows
 * old -> 0, a rule only the candidate has shows 0 -> new, and a customer's rows always add up to
 * its whole old and new totals. A record the candidate cannot price (no rule: `unpriced`; or no
 * exchange rate, or a field rating needs is malformed) still counts in `old` (it is what the
 * index holds) and in nothing under `new`: the price stage would dead-letter it. Such records are
 * counted and listed per customer rather than failing the diff. Nothing is rounded.
 */

/** How many unpriced (or otherwise unrated) records are listed per customer; all are counted. */
export const LISTED_RECORDS_LIMIT = 100;
/** How many problems with the indexed data (a missing x_RatedCost) are kept per customer. */
const PROBLEMS_LIMIT = 20;

export interface RuleDiff {
  /** x_PriceRuleId: of the indexed record (old side) and of the candidate's rating (new side). */
  rule_id: string | null;
  old: string;
  new: string;
  change: string;
  /** Records summed into `old` / into `new` under this rule. */
  old_records: number;
  new_records: number;
}

export interface CurrencyDiff {
  currency: string;
  old: string;
  new: string;
  change: string;
  rules: RuleDiff[];
}

/** A record the candidate book does not price, with what the index holds for it. */
export interface UnratedRecord {
  record_id: string;
  reason: RateFailureReason;
  message: string;
  old_rule_id: string | null;
  old_amount: string | null;
  old_currency: string | null;
}

export interface UnratedRecords {
  count: number;
  /** The first LISTED_RECORDS_LIMIT of them, in the order they were read. */
  records: UnratedRecord[];
}

export interface CustomerDiff {
  customer: string;
  records: number;
  currencies: CurrencyDiff[];
  /** No rule of the candidate book matches (reason unpriced). */
  unpriced: UnratedRecords;
  /** The candidate has a rule but cannot rate the record (no_exchange_rate, malformed_input). */
  failed: UnratedRecords;
  /** Indexed records without a usable x_RatedCost / x_RatedCurrency (counted in no `old`). */
  problems: string[];
}

export interface CurrencyTotal {
  currency: string;
  old: string;
  new: string;
  change: string;
}

export interface PriceBookDiff {
  period: string;
  customer: string | null;
  book: { version: string; fingerprint: string };
  records: number;
  customers: CustomerDiff[];
  /** Over every customer of the diff. */
  totals: CurrencyTotal[];
}

interface RuleAcc {
  old: Decimal;
  new: Decimal;
  oldRecords: number;
  newRecords: number;
}

interface CustomerAcc {
  records: number;
  /** currency -> rule id (JSON of string | null) -> sums */
  currencies: Map<string, Map<string, RuleAcc>>;
  unpriced: UnratedRecords;
  failed: UnratedRecords;
  problems: string[];
}

const ZERO = new Decimal(0);
const text = (d: Decimal) => decimalToString(d);
const byCodePoint = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

export class ShadowDiff {
  private readonly customers = new Map<string, CustomerAcc>();
  private records = 0;

  constructor(
    private readonly book: PriceBook,
    private readonly context: {
      period: string;
      customer: string | null;
      fingerprint: string;
    },
  ) {}

  private customer(id: string): CustomerAcc {
    let c = this.customers.get(id);
    if (!c) {
      c = {
        records: 0,
        currencies: new Map(),
        unpriced: { count: 0, records: [] },
        failed: { count: 0, records: [] },
        problems: [],
      };
      this.customers.set(id, c);
    }
    return c;
  }

  private rule(c: CustomerAcc, currency: string, ruleId: string | null): RuleAcc {
    let rules = c.currencies.get(currency);
    if (!rules) {
      rules = new Map();
      c.currencies.set(currency, rules);
    }
    const key = JSON.stringify(ruleId);
    let acc = rules.get(key);
    if (!acc) {
      acc = { old: ZERO, new: ZERO, oldRecords: 0, newRecords: 0 };
      rules.set(key, acc);
    }
    return acc;
  }

  /** Folds one indexed (already rated) record into the diff. */
  add(record: UsageRecord): void {
    this.records++;
    const c = this.customer(record.x_CustomerId);
    c.records++;

    const oldAmount = record.x_RatedCost === null ? undefined : parseDecimal(record.x_RatedCost);
    if (oldAmount !== undefined && record.x_RatedCurrency) {
      const acc = this.rule(c, record.x_RatedCurrency, record.x_PriceRuleId ?? null);
      acc.old = acc.old.plus(oldAmount);
      acc.oldRecords++;
    } else if (c.problems.length < PROBLEMS_LIMIT) {
      c.problems.push(
        `usage record ${record.x_RecordId} has no rated cost (x_RatedCost ${JSON.stringify(record.x_RatedCost)}, ` +
          `x_RatedCurrency ${JSON.stringify(record.x_RatedCurrency)}): not in the old totals`,
      );
    }

    const result = rateRecord(record, this.book);
    if (result.ok) {
      // rateRecord returns decimalToString text, always parseable.
      const acc = this.rule(c, result.record.x_RatedCurrency!, result.record.x_PriceRuleId);
      acc.new = acc.new.plus(new Decimal(result.record.x_RatedCost!));
      acc.newRecords++;
      return;
    }
    const list = result.reason === DeadLetterReasons.UNPRICED ? c.unpriced : c.failed;
    list.count++;
    if (list.records.length < LISTED_RECORDS_LIMIT)
      list.records.push({
        record_id: record.x_RecordId,
        reason: result.reason,
        message: result.message,
        old_rule_id: record.x_PriceRuleId ?? null,
        old_amount: oldAmount === undefined ? null : text(oldAmount),
        old_currency: record.x_RatedCurrency ?? null,
      });
  }

  result(): PriceBookDiff {
    const totals = new Map<string, { old: Decimal; new: Decimal }>();
    const customers = [...this.customers.entries()]
      .sort(([a], [b]) => byCodePoint(a, b))
      .map(([customer, c]): CustomerDiff => {
        const currencies = [...c.currencies.entries()]
          .sort(([a], [b]) => byCodePoint(a, b))
          .map(([currency, rules]): CurrencyDiff => {
            let oldSum = ZERO;
            let newSum = ZERO;
            const rows = [...rules.entries()]
              .map(([key, r]): RuleDiff => {
                oldSum = oldSum.plus(r.old);
                newSum = newSum.plus(r.new);
                return {
                  rule_id: JSON.parse(key) as string | null,
                  old: text(r.old),
                  new: text(r.new),
                  change: text(r.new.minus(r.old)),
                  old_records: r.oldRecords,
                  new_records: r.newRecords,
                };
              })
              // null (a record without a rule id) sorts first.
              .sort((a, b) => byCodePoint(a.rule_id ?? '', b.rule_id ?? ''));
            const t = totals.get(currency) ?? { old: ZERO, new: ZERO };
            totals.set(currency, { old: t.old.plus(oldSum), new: t.new.plus(newSum) });
            return {
              currency,
              old: text(oldSum),
              new: text(newSum),
              change: text(newSum.minus(oldSum)),
              rules: rows,
            };
          });
        return {
          customer,
          records: c.records,
          currencies,
          unpriced: c.unpriced,
          failed: c.failed,
          problems: c.problems,
        };
      });
    return {
      period: this.context.period,
      customer: this.context.customer,
      book: { version: this.book.version, fingerprint: this.context.fingerprint },
      records: this.records,
      customers,
      totals: [...totals.entries()]
        .sort(([a], [b]) => byCodePoint(a, b))
        .map(([currency, t]) => ({
          currency,
          old: text(t.old),
          new: text(t.new),
          change: text(t.new.minus(t.old)),
        })),
    };
  }
}

/** The diff of a set of records (all read already): what the tests and small callers use. */
export function shadowDiff(
  records: Iterable<UsageRecord>,
  book: PriceBook,
  context: { period: string; customer?: string | null; fingerprint: string },
): PriceBookDiff {
  const diff = new ShadowDiff(book, { ...context, customer: context.customer ?? null });
  for (const r of records) diff.add(r);
  return diff.result();
}
