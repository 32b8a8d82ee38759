import type { ChildProcess } from 'node:child_process';
import { eventually, exitOf } from '../integration/helpers';
import { curLines } from '../integration/collectors/cur-fixture';
import { PipelineScenario } from './pipeline';
import { recordFigure } from './results';

/**
 * A zombie processor: `meterflow process all` frozen with SIGSTOP past its session timeout while
 * it works, a second instance taking its partitions over, then the first thawed with SIGCONT, a
 * batch in hand that its group no longer lets it own. kafkajs cannot fence such a producer (see
 * processors/core/transactional-stage.ts), so a record may reach the rated topic twice; the
 * guarantee is that no total counts it twice. The oracle is Elasticsearch: one document per source
 * row, exact billed-cost total, whatever the rated topic holds.
 *
 * A thawed zombie's stages meet "old epoch" (their transactions expired) and, being non-retriable,
 * exit the process (runtime/consumer-health.ts), as a supervisor expects. Slow (about 90 s), so in
 * `npm run test:faults` only. It failed once, in a full run, with fewer documents than rows after
 * 240 s and no log kept; it passed the runs after that, run alone. A failure now keeps the
 * processes' logs (printed: where), to tell lost rows from late ones.
 */
const ROWS = 20_000;

describe('faults: a zombie processor (SIGSTOP past its session, then SIGCONT)', () => {
  jest.setTimeout(300_000);

  it('counts every row once in Elasticsearch', async () => {
    const s = new PipelineScenario('zombie');
    let passed = false;
    try {
      const lines = curLines(ROWS);
      await s.putRevision('assembly-zombie', lines);
      expect(await exitOf(s.cli(['collect', 'aws', '--once'], 'collector'))).toBe(0);

      const first: ChildProcess = s.cli(['process', 'all', '--instance', 'a'], 'processor-a');
      await eventually(async () => ((await s.ratedOffsets()) > 2_000 ? true : undefined), 120_000, 100);
      first.kill('SIGSTOP');
      // Past the 6 s session: the group drops the frozen member.
      await new Promise((r) => setTimeout(r, 9_000));
      s.cli(['process', 'all', '--instance', 'b'], 'processor-b');
      const before = await s.ratedOffsets();
      await eventually(
        async () => ((await s.ratedOffsets()) > before + 1_000 ? true : undefined),
        120_000,
        100,
      );
      first.kill('SIGCONT');
      const thawed = Date.now();

      await s.startSink();
      await s.expectOracle(lines);
      recordFigure('s from SIGCONT to the exact total', ((Date.now() - thawed) / 1000).toFixed(1));
      passed = true;
    } finally {
      await s.close(passed);
    }
  });
});
