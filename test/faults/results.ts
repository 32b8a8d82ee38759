import fs from 'node:fs';
import path from 'node:path';

/**
 * Scenario figures for test/faults/RESULTS.md: a scenario records what it measured (time to
 * recover, requests refused, rows re-sent, ...) with `recordFigure`; the suite's reporter
 * (results-reporter.js) puts them beside each scenario's outcome and duration when
 * `npm run test:faults` ends.
 */
export const FIGURES_FILE = path.resolve(__dirname, '..', '..', '.meterflow', 'faults', 'figures.jsonl');

export function recordFigure(name: string, value: string | number): void {
  const scenario = expect.getState().currentTestName ?? 'unknown';
  fs.mkdirSync(path.dirname(FIGURES_FILE), { recursive: true });
  fs.appendFileSync(FIGURES_FILE, `${JSON.stringify({ scenario, name, value })}\n`);
}
