import { eventually, exitOf } from '../integration/helpers';
import { curLines } from '../integration/collectors/cur-fixture';
import { PipelineScenario } from './pipeline';
import { recordFigure } from './results';

/**
 * A restated export arriving while the previous revision is still in flight: revision 1 is
 * collected and half-way through the processors when revision 2 (fewer rows, every cost changed)
 * replaces it. Readers must end up seeing revision 2 alone, exactly, with revision 1 superseded;
 * never a mix of the two and never revision 1 published over revision 2.
 */
const ROWS_1 = 20_000;
const ROWS_2 = 15_000;

describe('faults: a restatement while the previous revision is mid-flight', () => {
  jest.setTimeout(300_000);

  it('publishes the restated revision alone, exactly', async () => {
    const s = new PipelineScenario('restated');
    let passed = false;
    try {
      const first = curLines(ROWS_1);
      const restated = curLines(ROWS_2, { restated: true });
      await s.putRevision('assembly-1', first);
      s.cli(['process', 'all', '--instance', 'p'], 'processor');
      await s.startSink();
      expect(await exitOf(s.cli(['collect', 'aws', '--once'], 'collector-1'))).toBe(0);
      // Revision 1 is on its way through the stages: some of it rated, not all.
      const midway = await eventually(
        async () => {
          const n = await s.ratedOffsets();
          return n > 1_000 ? n : undefined;
        },
        120_000,
        50,
      );
      expect(midway).toBeLessThan(ROWS_1);
      recordFigure('rated offsets when the restatement was collected', midway);

      await s.putRevision('assembly-2', restated);
      expect(await exitOf(s.cli(['collect', 'aws', '--once'], 'collector-2'))).toBe(0);

      const published = await s.revisionState('assembly-2', 'published', 240_000);
      expect(published.row_count).toBe(ROWS_2);
      await s.revisionState('assembly-1', 'superseded', 60_000);
      await s.expectOracle(restated);
      passed = true;
    } finally {
      await s.close(passed);
    }
  });
});
