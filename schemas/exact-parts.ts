import { Decimal } from './decimal';

/**
 * An amount as three integers that a search engine's `sum` adds without error:
 *
 *   value = units + nano / 10^9 + atto / 10^18,   units = floor(value),   0 <= nano, atto < 10^9
 *
 * Elasticsearch sums numeric fields in binary floating point (a double), which is exact for
 * integers as long as every partial sum stays within 2^53. A decimal amount is not such an
 * integer, and one long at a fixed scale cannot hold both a ten-million-dollar line and a cost of
 * 10^-10 (2^53 is about 9 * 10^15). Split in three, each part's sum stays exact over millions of
 * documents; `exactPartsSum` checks the bounds of every sum before it trusts one.
 *
 * Amounts with more than 18 decimal places, or whose units exceed 2^53, get no parts: a reader
 * that finds a document without them sums the exact text instead.
 */
export interface ExactParts {
  units: number;
  nano: number;
  atto: number;
}

const E9 = 1_000_000_000n;
const E18 = E9 * E9;
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const PLAIN_DECIMAL = /^(-?)(\d+)(?:\.(\d+))?$/;

export function exactParts(text: string): ExactParts | undefined {
  const m = PLAIN_DECIMAL.exec(text);
  if (!m) return undefined;
  const fraction = (m[3] ?? '').replace(/0+$/, '');
  if (fraction.length > 18) return undefined;
  // Up to 15 integer digits, every part and units - 1 are integers a double holds exactly, so they
  // are computed without BigInt (the sink does this for three amounts of every document).
  if (m[2].length <= 15) {
    const digits = fraction.padEnd(18, '0');
    const units = Number(m[2]);
    const nano = Number(digits.slice(0, 9));
    const atto = Number(digits.slice(9));
    if (!m[1]) return { units, nano, atto };
    if (nano === 0 && atto === 0) return { units: 0 - units, nano: 0, atto: 0 };
    // floor of a negative amount with a fraction: one unit lower, and 1 - fraction as the parts.
    if (atto === 0) return { units: -units - 1, nano: 1e9 - nano, atto: 0 };
    return { units: -units - 1, nano: 1e9 - 1 - nano, atto: 1e9 - atto };
  }
  const magnitude = BigInt(m[2] + fraction.padEnd(18, '0'));
  const scaled = m[1] ? -magnitude : magnitude;
  let units = scaled / E18;
  let rest = scaled % E18;
  // BigInt division truncates toward zero; the parts need floor, so that nano and atto are >= 0.
  if (rest < 0n) {
    units -= 1n;
    rest += E18;
  }
  if (units > MAX_SAFE || units < -MAX_SAFE) return undefined;
  return { units: Number(units), nano: Number(rest / E9), atto: Number(rest % E9) };
}

/** What a search engine returned for one group of documents, each carrying parts. */
export interface PartSums {
  /** Documents summed. */
  count: number;
  /** min and max of `units` over them, and the three sums, as the engine's JSON numbers. */
  unitsMin: number;
  unitsMax: number;
  unitsSum: number;
  nanoSum: number;
  attoSum: number;
}

/**
 * The exact total of a group from its part sums, or undefined when a sum may have been rounded:
 * some partial sum could have left the doubles' exact-integer range (2^53), judged from the count
 * and the largest magnitude of each part.
 */
export function exactPartsSum(s: PartSums): Decimal | undefined {
  const n = BigInt(s.count);
  const ints = [s.unitsMin, s.unitsMax, s.unitsSum, s.nanoSum, s.attoSum];
  if (!ints.every((v) => Number.isSafeInteger(v))) return undefined;
  const largestUnits = BigInt(Math.max(Math.abs(s.unitsMin), Math.abs(s.unitsMax)));
  if (largestUnits * n > MAX_SAFE || (E9 - 1n) * n > MAX_SAFE) return undefined;
  const scaled = BigInt(s.unitsSum) * E18 + BigInt(s.nanoSum) * E9 + BigInt(s.attoSum);
  const negative = scaled < 0n;
  const digits = (negative ? -scaled : scaled).toString().padStart(19, '0');
  return new Decimal(`${negative ? '-' : ''}${digits.slice(0, -18)}.${digits.slice(-18)}`);
}
