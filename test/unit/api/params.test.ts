import { ApiError } from '../../../api/errors';
import {
  parseDate,
  parseDeadLetterQuery,
  parseRevisionsQuery,
  parseUsageQuery,
  type Query,
} from '../../../api/params';

function apiError(fn: () => unknown): ApiError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ApiError) return err;
    throw err;
  }
  throw new Error('expected an ApiError');
}

describe('usage query', () => {
  it('parses from, to and group_by (default service)', () => {
    expect(parseUsageQuery({ from: '2025-01-01', to: '2025-02-01' }, 366)).toEqual({
      from: '2025-01-01',
      to: '2025-02-01',
      groupBy: 'service',
    });
    for (const g of ['service', 'sku', 'region', 'day']) {
      expect(parseUsageQuery({ from: '2025-01-01', to: '2025-01-02', group_by: g }, 366).groupBy).toBe(g);
    }
  });

  it('parses as_known_at to a UTC instant and price_book_version; refuses a time without a zone', () => {
    const q = parseUsageQuery(
      {
        from: '2025-01-01',
        to: '2025-02-01',
        as_known_at: '2025-02-03T10:00:00+02:00',
        price_book_version: '2025-01.2',
      },
      366,
    );
    expect(q).toMatchObject({ asKnownAt: '2025-02-03T08:00:00.000Z', priceBookVersion: '2025-01.2' });
    const err = apiError(() =>
      parseUsageQuery({ from: '2025-01-01', to: '2025-02-01', as_known_at: '2025-02-03T10:00:00' }, 366),
    );
    expect(err).toMatchObject({ status: 400 });
    expect(err.message).toContain('"as_known_at" must be an ISO-8601');
    const empty = apiError(() =>
      parseUsageQuery({ from: '2025-01-01', to: '2025-02-01', price_book_version: '' }, 366),
    );
    expect(empty.message).toContain('"price_book_version" must not be empty');
  });

  it('accepts a range of exactly max_range_days, rejects one day more', () => {
    // 2024 is a leap year: 2024-01-01 .. 2025-01-01 is 366 days.
    expect(parseUsageQuery({ from: '2024-01-01', to: '2025-01-01' }, 366).to).toBe('2025-01-01');
    const err = apiError(() => parseUsageQuery({ from: '2024-01-01', to: '2025-01-02' }, 366));
    expect(err).toMatchObject({ status: 400, code: 'range_too_long' });
    expect(err.message).toContain('367');
  });

  it.each<[string, Query, string, string]>([
    ['missing from', { to: '2025-01-02' }, 'missing_parameter', '"from"'],
    ['missing to', { from: '2025-01-02' }, 'missing_parameter', '"to"'],
    ['empty from', { from: '', to: '2025-01-02' }, 'missing_parameter', '"from"'],
    ['a date-time', { from: '2025-01-01T00:00:00Z', to: '2025-01-02' }, 'invalid_parameter', 'YYYY-MM-DD'],
    ['a day-first date', { from: '01-02-2025', to: '2025-03-01' }, 'invalid_parameter', 'YYYY-MM-DD'],
    ['February 30', { from: '2025-02-30', to: '2025-03-01' }, 'invalid_parameter', 'calendar date'],
    ['month 13', { from: '2025-01-01', to: '2025-13-01' }, 'invalid_parameter', 'calendar date'],
    ['from = to', { from: '2025-01-01', to: '2025-01-01' }, 'invalid_range', 'before'],
    ['from after to', { from: '2025-02-01', to: '2025-01-01' }, 'invalid_range', 'before'],
    [
      'unknown group_by',
      { from: '2025-01-01', to: '2025-01-02', group_by: 'customer' },
      'invalid_parameter',
      'group_by',
    ],
    [
      'upper-case group_by',
      { from: '2025-01-01', to: '2025-01-02', group_by: 'SERVICE' },
      'invalid_parameter',
      'group_by',
    ],
    [
      'a customer filter',
      { from: '2025-01-01', to: '2025-01-02', customer: 'acme' },
      'unknown_parameter',
      'customer',
    ],
    [
      'a repeated parameter',
      { from: ['2025-01-01', '2025-01-03'], to: '2025-01-04' },
      'invalid_parameter',
      'once',
    ],
  ])('rejects %s with 400', (_name, query, code, mention) => {
    const err = apiError(() => parseUsageQuery(query, 366));
    expect(err.status).toBe(400);
    expect(err.code).toBe(code);
    expect(err.message).toContain(mention);
  });

  it('parses calendar dates as UTC midnight', () => {
    expect(parseDate('from', '2024-02-29')).toBe(Date.UTC(2024, 1, 29));
    expect(apiError(() => parseDate('from', '2025-02-29')).code).toBe('invalid_parameter');
  });
});

describe('revisions query', () => {
  it('parses filters and the limit', () => {
    expect(parseRevisionsQuery({})).toEqual({ limit: 100 });
    expect(
      parseRevisionsQuery({ state: 'unreconciled', scope: 'aws/cur', billing_period: '2025-01', limit: '5' }),
    ).toEqual({ state: 'unreconciled', scope: 'aws/cur', billingPeriod: '2025-01', limit: 5 });
  });

  it.each<[string, Query, string]>([
    ['an unknown state', { state: 'done' }, 'invalid_parameter'],
    ['limit 0', { limit: '0' }, 'invalid_parameter'],
    ['limit above the maximum', { limit: '1001' }, 'invalid_parameter'],
    ['a fractional limit', { limit: '1.5' }, 'invalid_parameter'],
    ['a bad billing period', { billing_period: '2025-1' }, 'invalid_parameter'],
    ['an empty scope', { scope: '' }, 'invalid_parameter'],
    ['a control character', { scope: 'a\nb' }, 'invalid_parameter'],
    ['an unknown parameter', { customer: 'acme' }, 'unknown_parameter'],
  ])('rejects %s with 400', (_name, query, code) => {
    expect(apiError(() => parseRevisionsQuery(query))).toMatchObject({ status: 400, code });
  });
});

describe('dead-letter query', () => {
  it('parses the optional filters and rejects others', () => {
    expect(parseDeadLetterQuery({ stage: 'normalize', customer: 'acme' })).toEqual({
      stage: 'normalize',
      customer: 'acme',
    });
    expect(apiError(() => parseDeadLetterQuery({ reason: 'x' }))).toMatchObject({
      status: 400,
      code: 'unknown_parameter',
    });
    expect(apiError(() => parseDeadLetterQuery({ scope: 'x'.repeat(257) }))).toMatchObject({ status: 400 });
  });
});
