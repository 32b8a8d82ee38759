import { accumulatedWatermarks } from '../../../../sinks/elasticsearch/publication-rules';
import { usageAliasFilter } from '../../../../sinks/elasticsearch/visibility';
import { publishKey } from '../../../../sinks/elasticsearch/indices';

const seal = (scope: string, id: string, state: string, offset: number | null = 1) => ({
  scope,
  revision_id: id,
  completed_offset: offset,
  state: state as 'pending',
  failed: false,
  format: 'platform-events',
});

describe('accumulating scopes (first-party event seals)', () => {
  it('show every seal up to the newest below which all have reconciled; an open one holds back the later', () => {
    const A = 'platform/i0/2026-11';
    const B = 'platform/i0/2026-12';
    const revisions = [
      seal(A, 's001', 'published'),
      seal(A, 's002', 'pending'),
      seal(A, 's003', 'pending'),
      seal(A, 's004', 'pending'),
      seal(B, 's005', 'pending'),
      // An export scope is not accumulating: chooseCurrent decides it.
      { ...seal('aws/b/cur/2026-11', 'r1', 'pending'), format: 'aws-cur-legacy' },
    ];
    const reconciled = new Set([
      publishKey(A, 's002'),
      publishKey(A, 's004'),
      publishKey('aws/b/cur/2026-11', 'r1'),
    ]);
    // s003 is still pending: s004 waits behind it. B has nothing reconciled yet.
    expect(accumulatedWatermarks(revisions, reconciled)).toEqual(new Map([[A, 's002']]));
    reconciled.add(publishKey(A, 's003'));
    reconciled.add(publishKey(B, 's005'));
    expect(accumulatedWatermarks(revisions, reconciled)).toEqual(
      new Map([
        [A, 's004'],
        [B, 's005'],
      ]),
    );
  });

  it('make one range clause per scope in the alias filter, whatever the number of seals', () => {
    expect(usageAliasFilter(['x@1'], new Map())).toEqual({ terms: { x_PublishKey: ['x@1'] } });
    const f = usageAliasFilter(['x@1'], new Map([['platform/i0/2026-11', 's009']]));
    expect(f).toEqual({
      bool: {
        minimum_should_match: 1,
        should: [
          { terms: { x_PublishKey: ['x@1'] } },
          {
            bool: {
              filter: [
                { term: { x_Scope: 'platform/i0/2026-11' } },
                { range: { x_Revision: { lte: 's009' } } },
              ],
            },
          },
        ],
      },
    });
  });
});
