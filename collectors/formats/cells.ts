import { DECIMAL_BOUNDS, Decimal, parseDecimal } from '../../schemas/decimal';
import { clipText } from './rows';
import { ErrorCodes, InputError } from '../../runtime/errors';

/** The exact decimal in a cell, or an InputError naming the column: a garbled amount is never null. */
export function decimalCell(name: string, text: string): Decimal {
  const d = parseDecimal(text);
  if (d === undefined) {
    throw new InputError(
      ErrorCodes.MALFORMED_INPUT,
      `not a decimal number: ${JSON.stringify(clipText(text))} (at most ${DECIMAL_BOUNDS.maxIntegerDigits} integer digits and ${DECIMAL_BOUNDS.maxFractionDigits} decimal places)`,
      { field: name },
    );
  }
  return d;
}
