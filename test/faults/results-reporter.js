/* eslint-disable @typescript-eslint/no-require-imports */
// A jest reporter: when the whole fault suite runs (`npm run test:faults`, FAULTS_SLOW=1), it
// rewrites test/faults/RESULTS.md with every scenario's outcome, duration and recorded figures
// (results.ts). Plain JavaScript: jest loads reporters without the TypeScript transform.
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..', '..');
const FIGURES = path.join(ROOT, '.meterflow', 'faults', 'figures.jsonl');
const RESULTS = path.join(__dirname, 'RESULTS.md');

class FaultResultsReporter {
  onRunStart() {
    fs.rmSync(FIGURES, { force: true });
  }

  onRunComplete(_contexts, results) {
    if (process.env.FAULTS_SLOW !== '1') return;
    const figures = new Map();
    if (fs.existsSync(FIGURES))
      for (const line of fs.readFileSync(FIGURES, 'utf8').split('\n').filter(Boolean)) {
        const f = JSON.parse(line);
        if (!figures.has(f.scenario)) figures.set(f.scenario, []);
        figures.get(f.scenario).push(`${f.name}: ${f.value}`);
      }
    const rows = [];
    for (const file of results.testResults) {
      if (!file.testFilePath.includes(`${path.sep}test${path.sep}faults${path.sep}`)) continue;
      for (const t of file.testResults) {
        const scenario = t.fullName;
        rows.push(
          `| ${path.basename(file.testFilePath)} | ${scenario} | ${t.status} | ${((t.duration ?? 0) / 1000).toFixed(1)} | ${(figures.get(scenario) ?? []).join('; ')} |`,
        );
      }
    }
    if (rows.length === 0) return;
    // Only a run of the whole suite rewrites the file: a run of some scenarios (a path filter)
    // would replace the full table with a partial one.
    const files = fs.readdirSync(__dirname).filter((f) => f.endsWith('.test.ts'));
    const ran = new Set(
      results.testResults
        .map((f) => f.testFilePath)
        .filter((f) => f.includes(`${path.sep}test${path.sep}faults${path.sep}`))
        .map((f) => path.basename(f)),
    );
    if (!files.every((f) => ran.has(f))) return;
    const text = [
      '# Fault scenarios: last run',
      '',
      'Rewritten by `npm run test:faults` (test/faults/results-reporter.js); never edited by hand.',
      '',
      `- date: ${new Date().toISOString()}`,
      `- machine: ${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}`,
      `- outcome: ${results.numPassedTests} passed, ${results.numFailedTests} failed`,
      '',
      '| file | scenario | outcome | seconds | figures |',
      '| --- | --- | --- | --- | --- |',
      ...rows,
      '',
    ].join('\n');
    fs.writeFileSync(RESULTS, text);
  }
}

module.exports = FaultResultsReporter;
