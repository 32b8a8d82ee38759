import { DedupeState, revisionKeyOf } from '../../../processors/dedupe/dedupe';

describe('DedupeState', () => {
  it('emits each record id once per revision, whatever is redelivered', () => {
    const state = new DedupeState({ max_ids: 100 });
    const r1 = revisionKeyOf('aws/b/report/2026-11', 'assembly-1');
    expect(state.observe(r1, 'id-1')).toBe('first');
    expect(state.observe(r1, 'id-2')).toBe('first');
    expect(state.observe(r1, 'id-1')).toBe('duplicate');
    expect(state.observe(r1, 'id-2')).toBe('duplicate');
    // The same id under another revision is another line: revisions never merge.
    expect(state.observe(revisionKeyOf('aws/b/report/2026-11', 'assembly-2'), 'id-1')).toBe('first');
    expect(state.trackedIds).toBe(3);
  });

  it('stays within max_ids by forgetting the least recently seen revisions whole', () => {
    const state = new DedupeState({ max_ids: 6 });
    for (let i = 0; i < 3; i++) state.observe('old', `o${i}`);
    for (let i = 0; i < 2; i++) state.observe('mid', `m${i}`);
    state.observe('old', 'o3'); // "old" is now the most recently used
    expect(state.trackedIds).toBe(6);
    state.observe('new', 'n0'); // over the bound: "mid" goes, "old" stays
    expect(state.trackedIds).toBe(5);
    expect(state.has('mid', 'm0')).toBe(false);
    expect(state.has('old', 'o0')).toBe(true);
    expect(state.evictedRevisions).toBe(1);
  });

  it('never evicts the revision being written', () => {
    const state = new DedupeState({ max_ids: 2 });
    for (let i = 0; i < 10; i++) expect(state.observe('only', `id${i}`)).toBe('first');
    expect(state.observe('only', 'id3')).toBe('duplicate');
  });
});
