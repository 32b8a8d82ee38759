import type { ChildProcess } from 'node:child_process';
import { eventually, exitOf } from '../integration/helpers';
import { prng } from '../support/random';
import { curLines } from '../integration/collectors/cur-fixture';
import { PipelineScenario } from './pipeline';
import { recordFigure } from './results';

/**
 * kill -9 of each stage in turn, at a random instant, while a revision flows: normalize, dedupe,
 * price and the sink (with its revision publisher) run as separate processes, as a scaled-out
 * deployment runs them, and each is killed once and started again under the same instance id.
 * The kill instants come from a seed (FAULTS_SEED, else the clock), recorded in RESULTS.md so a
 * failing run can be replayed. The oracle: the revision published with every row, Elasticsearch
 * holding one document per source row and the exact total.
 */
const ROWS = 40_000;
const STAGES = ['normalize', 'dedupe', 'price', 'sink'] as const;

describe('faults: kill -9 of each stage at a random instant', () => {
  jest.setTimeout(420_000);

  it('loses and doubles nothing', async () => {
    const seed = Number(process.env.FAULTS_SEED ?? Date.now() % 1_000_000);
    const random = prng(seed);
    recordFigure('seed', seed);
    const s = new PipelineScenario('killstages');
    let passed = false;
    try {
      const lines = curLines(ROWS);
      await s.putRevision('assembly-kill', lines);
      const args = (stage: (typeof STAGES)[number]) =>
        stage === 'sink' ? ['sink', 'elasticsearch'] : ['process', stage, '--instance', 'k'];
      const running = new Map<string, ChildProcess>();
      for (const stage of STAGES) running.set(stage, s.cli(args(stage), stage));
      const collector = exitOf(s.cli(['collect', 'aws', '--once'], 'collector'));

      for (const stage of STAGES) {
        const wait = Math.floor(500 + random() * 4_000);
        await new Promise((r) => setTimeout(r, wait));
        running.get(stage)!.kill('SIGKILL');
        await exitOf(running.get(stage)!);
        recordFigure(`${stage} killed after ms`, wait);
        running.set(stage, s.cli(args(stage), `${stage}-restarted`));
      }
      expect(await collector).toBe(0);
      // Something was rated before the last kill landed: the kills met work in flight.
      expect(await eventually(async () => ((await s.ratedOffsets()) > 0 ? true : undefined), 60_000)).toBe(
        true,
      );

      const published = await s.revisionState('assembly-kill', 'published', 300_000);
      expect(published.row_count).toBe(ROWS);
      await s.expectOracle(lines);
      passed = true;
    } finally {
      await s.close(passed);
    }
  });
});
