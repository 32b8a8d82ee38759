import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../../runtime/config';
import { createLogger } from '../../../runtime/logger';
import { stagesFor, Supervisor } from '../../../cli/supervisor';

describe('meterflow run', () => {
  it('runs the collectors of configured clouds only, then processors, sink, invoices and API', () => {
    const { config } = loadConfig({ env: {}, cwd: os.tmpdir() });
    config.aws.exports = [{ name: 'cur', bucket: 'b', prefix: '', type: 'auto' }];
    const stages = stagesFor(config);
    expect(stages.map((s) => s.name)).toEqual(['collect-aws', 'process', 'sink', 'invoices', 'api']);
    // Each child has its own ops port, so they can share a host.
    const ports = stages
      .filter((s) => s.args.includes('--ops-port'))
      .map((s) => s.args[s.args.indexOf('--ops-port') + 1]);
    expect(new Set(ports).size).toBe(ports.length);
  });

  it('restarts a stage that exits, and stops every child on stop()', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meterflow-supervisor-'));
    const counter = path.join(dir, 'starts');
    // A "stage" that records its start, then dies at once; and one that runs until signalled.
    const script = `require('fs').appendFileSync(${JSON.stringify(counter)}, 'x'); if (process.argv[1] === 'die') process.exit(3); setInterval(() => {}, 1000);`;
    const supervisor = new Supervisor({
      command: [process.execPath, '-e', script],
      stages: [
        { name: 'crashing', args: ['die'] },
        { name: 'steady', args: ['live'] },
      ],
      logger: createLogger({ level: 'silent', component: 'test' }),
      minBackoffMs: 20,
      maxBackoffMs: 40,
    });
    supervisor.start();
    const deadline = Date.now() + 20_000;
    while ((supervisor.restartCounts.get('crashing') ?? 0) < 3 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 25));
    await supervisor.stop();
    expect(supervisor.restartCounts.get('crashing')).toBeGreaterThanOrEqual(3);
    expect(supervisor.restartCounts.get('steady')).toBeUndefined(); // stopped on request: not a restart
    expect(fs.readFileSync(counter, 'utf8').length).toBeGreaterThanOrEqual(4);
  });
});
