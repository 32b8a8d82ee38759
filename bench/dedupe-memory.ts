import crypto from 'node:crypto';
import { DedupeState } from '../processors/dedupe/dedupe';

/**
 * Memory of the dedupe state against distinct record ids: heap growth per tracked id, measured by
 * filling a DedupeState with N real-shaped ids (32 hex characters) over 50 revisions.
 * Run with --expose-gc for exact heap readings (npm run bench does).
 *
 *   npm run bench -- dedupe-memory [ids]
 */
export async function benchDedupeMemory(ids: number): Promise<Record<string, string | number>> {
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const before = process.memoryUsage().heapUsed;
  const state = new DedupeState({ max_ids: ids });
  for (let i = 0; i < ids; i++) {
    const id = crypto.createHash('sha256').update(String(i)).digest('hex').slice(0, 32);
    state.observe(`aws/bucket/report/2026-11\u0000assembly-${i % 50}`, id);
    if (i % 5000 === 4999) state.commit();
  }
  state.commit();
  gc?.();
  const after = process.memoryUsage().heapUsed;
  return {
    'distinct ids': ids,
    'tracked ids': state.trackedIds,
    'heap growth MB': +((after - before) / 1e6).toFixed(1),
    'bytes per id': Math.round((after - before) / ids),
    'exact (gc exposed)': gc ? 'yes' : 'no',
  };
}
