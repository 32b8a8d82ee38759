import { z } from 'zod';
import { AttributionConfigSchema } from './attribution';

/** Options of the normalize stage (snake_case, every key has a default). */
export const NormalizeOptionsSchema = z
  .object({
    attribution: AttributionConfigSchema.prefault({}).describe(
      'Customer attribution rules (tag keys, account maps, unallocated customer).',
    ),
    default_currency: z
      .string()
      .regex(/^[A-Z]{3}$/)
      .nullable()
      .default(null)
      .describe(
        'ISO 4217 currency for rows whose export carries no currency column at all (some legacy / trimmed Azure ' +
          'exports, FOCUS examples). Null: such rows are malformed.',
      ),
    lenient_focus: z
      .boolean()
      .default(false)
      .describe(
        'FOCUS input only: accept spreadsheet money such as "$10,000.00 " (the FOCUS specification examples). ' +
          'Off for real exports. (The literal "null", in any case, is null in every FOCUS input.)',
      ),
  })
  .strict();

export type NormalizeOptions = z.output<typeof NormalizeOptionsSchema>;
export type NormalizeOptionsInput = z.input<typeof NormalizeOptionsSchema>;

/** Validate options and fill defaults. Throws a ZodError listing every problem. */
export function parseNormalizeOptions(input: unknown = {}): NormalizeOptions {
  return NormalizeOptionsSchema.parse(input ?? {});
}

export const DEFAULT_NORMALIZE_OPTIONS: NormalizeOptions = parseNormalizeOptions({});
