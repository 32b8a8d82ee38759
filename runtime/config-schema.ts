import { z } from 'zod';

/**
 * Building blocks of every config section (runtime/config.ts assembles the sections; each
 * component keeps its own beside it). Numbers and booleans are also accepted as text, since
 * environment overrides arrive as text.
 */

export const num = (description: string) =>
  z
    .preprocess(
      (v) => (typeof v === 'string' && v.trim() !== '' ? Number(v) : v),
      z.number().int().nonnegative(),
    )
    .describe(description);
export const bool = (description: string) =>
  z
    .preprocess(
      (v) => (typeof v === 'string' ? ['1', 'true', 'yes', 'on'].includes(v.trim().toLowerCase()) : v),
      z.boolean(),
    )
    .describe(description);
export const strList = (description: string) =>
  z
    .preprocess(
      (v) =>
        typeof v === 'string'
          ? v
              .split(',')
              .map((s) => s.trim())
              .filter(Boolean)
          : v,
      z.array(z.string().min(1)),
    )
    .describe(description);
export const str = (description: string) => z.string().min(1).describe(description);
