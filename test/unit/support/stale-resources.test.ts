import { uniqueName } from '../../integration/helpers';
import { createdAtOfName, staleNames, STALE_AFTER_MS } from '../../support/stale-resources';

const at = (ms: number) => ms.toString(36);

describe('names of what earlier test and bench runs left on the stack', () => {
  test('reads the creation time of a test name (uniqueName) and of a bench name, with their suffixes', () => {
    const before = Date.now();
    const test = uniqueName('it-sink');
    expect(createdAtOfName(test)).toBeGreaterThanOrEqual(before);
    expect(createdAtOfName(`${test}.rated`)).toBe(createdAtOfName(test));
    expect(createdAtOfName(`${test}-usage-2026-11`)).toBe(createdAtOfName(test));
    const t = Date.UTC(2026, 10, 30, 12);
    expect(createdAtOfName(`bench-${at(t)}.raw.aws`)).toBe(t);
    expect(createdAtOfName(`bench-sink-${at(t)}.control`)).toBe(t);
    expect(createdAtOfName(`bench-api-usage-${at(t)}-usage`)).toBe(t);
  });

  test('names of anything else are not recognized', () => {
    for (const name of [
      'meterflow.rated',
      'meterflow.collector-checkpoints',
      'meterflow-usage-2026-11',
      'meterflow-invoices',
      '.security-7',
      '__consumer_offsets',
      // eight letters that decode to no plausible time, and a time without uniqueName's hex suffix
      'usage-overview-a1b2c3',
      `usage-${at(Date.UTC(2026, 0, 1))}`,
      // a time still to come
      `it-${at(Date.now() + 3_600_000)}-abcdef`,
    ]) {
      expect([name, createdAtOfName(name)]).toEqual([name, undefined]);
    }
  });

  test('only names created before the cutoff are stale', () => {
    const now = Date.now();
    const old = `it-e2e-${at(now - 2 * STALE_AFTER_MS)}-0a1b2c.rated`;
    const fresh = `it-e2e-${at(now - 60_000)}-0a1b2c.rated`;
    const oldBench = `bench-sink-${at(now - 2 * STALE_AFTER_MS)}.rated`;
    expect(staleNames([old, fresh, oldBench, 'meterflow.rated'], now - STALE_AFTER_MS)).toEqual([
      old,
      oldBench,
    ]);
  });
});
