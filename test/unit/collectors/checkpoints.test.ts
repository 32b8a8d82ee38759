import { parseCheckpoint, type Checkpoint } from '../../../collectors/core/checkpoints';

describe('parseCheckpoint', () => {
  const cp: Checkpoint = {
    scope: 'aws/b/report/2026-11',
    revision_id: 'assembly-1',
    state: 'completed',
    file_index: 0,
    line: 4,
    rows: 3,
    dead_letters: 0,
    totals: { USD: { billed_cost: '1.5', rows: 3 } },
    started_at: '2026-11-30T00:00:00Z',
    updated_at: '2026-11-30T00:00:01Z',
  };

  it('reads a checkpoint the collector wrote', () => {
    expect(parseCheckpoint(cp.scope, JSON.stringify(cp))).toEqual(cp);
  });

  it.each([
    ['truncated JSON', '{"scope": "aws/b', 'not JSON'],
    ['another scope', JSON.stringify({ ...cp, scope: 'aws/b/other/2026-11' }), 'not a checkpoint'],
    ['an unknown state', JSON.stringify({ ...cp, state: 'done' }), 'not a checkpoint'],
    ['a missing line', JSON.stringify({ ...cp, line: undefined }), 'not a checkpoint'],
    ['null', 'null', 'not a checkpoint'],
  ])('refuses %s with a reason instead of throwing', (_what, text, reason) => {
    const r = parseCheckpoint(cp.scope, text);
    expect(r).toBeInstanceOf(Error);
    expect((r as Error).message).toContain(reason);
  });
});
