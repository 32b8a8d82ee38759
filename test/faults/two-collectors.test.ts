import { exitOf } from '../integration/helpers';
import { curLines } from '../integration/collectors/cur-fixture';
import { PipelineScenario } from './pipeline';
import { recordFigure } from './results';

/**
 * Two collectors with different instance ids on the same export at the same time (an operator
 * scaling a singleton by mistake, or a rollout overlapping old and new pods). Each has its own
 * transactional id, so neither fences the other: both write every row and both frame the revision.
 * The guarantee rests on record ids (scope, revision, object, line): dedupe drops the second copy of
 * each row, the sink's document id absorbs any that slip through, and the publisher reconciles
 * the revision once. The oracle: one document per source row and the exact total; collecting the
 * export a third time writes no row.
 */
const ROWS = 12_000;

describe('faults: two collectors on one export', () => {
  jest.setTimeout(300_000);

  it('count every row once', async () => {
    const s = new PipelineScenario('twocollectors');
    let passed = false;
    try {
      const lines = curLines(ROWS);
      await s.putRevision('assembly-1', lines);
      const started = Date.now();
      const [a, b] = await Promise.all([
        exitOf(s.cli(['collect', 'aws', '--once', '--instance', 'a'], 'collector-a')),
        exitOf(s.cli(['collect', 'aws', '--once', '--instance', 'b'], 'collector-b')),
      ]);
      expect([a, b]).toEqual([0, 0]);
      s.cli(['process', 'all', '--instance', 'p'], 'processor');
      await s.startSink();
      const published = await s.revisionState('assembly-1', 'published', 240_000);
      expect(published.row_count).toBe(ROWS);
      await s.expectExactly(lines);
      recordFigure('s from collection to published', ((Date.now() - started) / 1000).toFixed(1));

      // A third collection of the same export: both instances' checkpoints say completed.
      const before = await s.ratedOffsets();
      expect(await exitOf(s.cli(['collect', 'aws', '--once', '--instance', 'a'], 'collector-a2'))).toBe(0);
      await new Promise((r) => setTimeout(r, 3_000));
      expect(await s.ratedOffsets()).toBe(before);
      await s.expectOracle(lines);
      passed = true;
    } finally {
      await s.close(passed);
    }
  });
});
