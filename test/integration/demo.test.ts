import { Decimal } from '../../runtime/decimal';
import { runDemo } from '../../deploy/demo/demo';
import { testConfig } from './helpers';

/** The main job (`npm start` / `meterflow demo --exit`) on the real local stack. */
describe('meterflow demo', () => {
  it('seeds all three clouds, rates every row, and reports per-customer totals', async () => {
    const lines: string[] = [];
    const summary = await runDemo(testConfig(), (l) => lines.push(l), false);
    const scopes = summary.tracker.scopeNames();
    expect(scopes.map((s) => s.split('/')[0]).sort()).toEqual(['aws', 'azure', 'gcp']);
    const rows: Record<string, number> = {};
    for (const scope of scopes) {
      const current = summary.tracker.currentRevision(scope)!;
      const c = summary.tracker.counts(scope, current);
      expect(c.rated + c.deadLettered).toBe(c.rows);
      rows[scope.split('/')[0]] = c.rows!;
    }
    expect(rows).toEqual({ aws: 13380, azure: 11, gcp: 500 });
    expect(summary.totals.map((t) => t.customer)).toEqual(['acme', 'globex', 'initech', 'unallocated']);
    for (const t of summary.totals) expect(new Decimal(t.rated).greaterThan(0)).toBe(true);
    expect(lines.some((l) => l.startsWith('seeded AWS CUR sample'))).toBe(true);
  });
});
