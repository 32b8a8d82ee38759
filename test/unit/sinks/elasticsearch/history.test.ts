import {
  keysVisibleAt,
  parseKnowledgeTime,
  pastRetention,
  revisionsVisibleAt,
  visibleAtFilter,
} from '../../../../sinks/elasticsearch/history';
import { usageAliasFilter } from '../../../../sinks/elasticsearch/visibility';

describe('usage history: which revisions readers saw at a knowledge time', () => {
  const scope = 'aws:cur:2026-01';
  const t = (iso: string) => Date.parse(iso);
  // r1 published, then replaced by r2 (same instant: r1's superseded_at is r2's published_at);
  // r3 overtaken while pending (never published); another scope published later and still current.
  const revisions = [
    {
      scope,
      revision_id: 'r1',
      state: 'superseded' as const,
      published_at: '2026-02-01T10:00:00.000Z',
      superseded_at: '2026-02-10T10:00:00.000Z',
    },
    {
      scope,
      revision_id: 'r2',
      state: 'published' as const,
      published_at: '2026-02-10T10:00:00.000Z',
      superseded_at: null,
    },
    {
      scope,
      revision_id: 'r0',
      state: 'superseded' as const,
      published_at: null,
      superseded_at: '2026-02-01T10:00:00.000Z',
    },
    {
      scope: 'gcp:billing:2026-01',
      revision_id: 'g1',
      state: 'published' as const,
      published_at: '2026-02-05T00:00:00.000Z',
    },
  ];

  it('is nothing before the first publication', () => {
    expect(keysVisibleAt(revisions, t('2026-02-01T09:59:59.999Z'))).toEqual([]);
  });

  it('is the revision published at or before T and not superseded by T', () => {
    expect(keysVisibleAt(revisions, t('2026-02-01T10:00:00.000Z'))).toEqual([`${scope}@r1`]);
    expect(keysVisibleAt(revisions, t('2026-02-06T00:00:00.000Z'))).toEqual([
      `${scope}@r1`,
      'gcp:billing:2026-01@g1',
    ]);
  });

  it('shows exactly one revision of a scope at the instant of a replacement, the new one', () => {
    expect(keysVisibleAt(revisions, t('2026-02-10T09:59:59.999Z'))).toContain(`${scope}@r1`);
    expect(keysVisibleAt(revisions, t('2026-02-10T10:00:00.000Z'))).toEqual([
      `${scope}@r2`,
      'gcp:billing:2026-01@g1',
    ]);
  });

  it('shows the newer publication of a scope when the older one has no superseded_at yet', () => {
    // A bulk that wrote r2's published_at but failed on r1's state: the next pass repairs r1 later.
    const partial = [{ ...revisions[0], state: 'published' as const, superseded_at: null }, revisions[1]];
    expect(keysVisibleAt(partial, t('2026-02-10T10:00:00.000Z'))).toEqual([`${scope}@r2`]);
    expect(keysVisibleAt(partial, t('2026-02-09T00:00:00.000Z'))).toEqual([`${scope}@r1`]);
  });

  it('never shows a revision that was not published, nor one superseded without a recorded time', () => {
    const legacy = [
      { scope, revision_id: 'old', state: 'superseded' as const, published_at: '2026-01-01T00:00:00Z' },
    ];
    expect(keysVisibleAt([...revisions, ...legacy], t('2026-03-01T00:00:00Z'))).toEqual([
      `${scope}@r2`,
      'gcp:billing:2026-01@g1',
    ]);
  });
});

describe('usage history: when superseded documents are deleted', () => {
  const supersededAt = '2026-02-10T10:00:00.000Z';
  const superseded = {
    state: 'superseded' as const,
    published_at: '2026-02-01T00:00:00Z',
    superseded_at: supersededAt,
  };
  const day = 86_400_000;

  it('keeps a superseded revision until its retention has passed, then deletes it', () => {
    const at = Date.parse(supersededAt);
    expect(pastRetention(superseded, at, 400)).toBe(false);
    expect(pastRetention(superseded, at + 400 * day - 1, 400)).toBe(false);
    expect(pastRetention(superseded, at + 400 * day, 400)).toBe(true);
  });

  it('deletes at once with retention 0 (the behaviour before history)', () => {
    expect(pastRetention(superseded, Date.parse(supersededAt), 0)).toBe(true);
  });

  it('deletes failed and never-published revisions at once: nobody saw them', () => {
    const now = Date.parse(supersededAt);
    expect(pastRetention({ state: 'failed', published_at: null }, now, 400)).toBe(true);
    expect(pastRetention({ ...superseded, published_at: null }, now, 400)).toBe(true);
    // Superseded by an earlier version (no time recorded): its documents went then.
    expect(pastRetention({ state: 'superseded', published_at: '2026-01-01T00:00:00Z' }, now, 400)).toBe(true);
  });

  it('never deletes a revision that is or may become visible', () => {
    for (const state of ['published', 'pending', 'collecting', 'unreconciled'] as const)
      expect(pastRetention({ state, published_at: null }, Date.now() + 1000 * day, 0)).toBe(false);
  });
});

describe('knowledge time parameter', () => {
  it('accepts a date or a date-time with a zone', () => {
    expect(parseKnowledgeTime('as_known_at', '2026-02-10')).toBe(Date.UTC(2026, 1, 10));
    expect(parseKnowledgeTime('as_known_at', '2026-02-10T11:00:00+01:00')).toBe(Date.UTC(2026, 1, 10, 10));
    expect(parseKnowledgeTime('as_known_at', '2026-02-10T10:00:00.123Z')).toBe(
      Date.UTC(2026, 1, 10, 10, 0, 0, 123),
    );
  });

  it('refuses a time without a zone and garbage, naming the parameter', () => {
    expect(() => parseKnowledgeTime('as_known_at', '2026-02-10T10:00:00')).toThrow(
      /as_known_at must be an ISO-8601/,
    );
    expect(() => parseKnowledgeTime('as_known_at', 'yesterday')).toThrow(/as_known_at/);
    expect(() => parseKnowledgeTime('as_known_at', '2026-02-30T10:00:00Z')).toThrow(/not a valid time/);
  });
});

describe('usage history of accumulating scopes (first-party event seals)', () => {
  const t = (iso: string) => Date.parse(iso);
  const scope = 'platform/i0/2026-11';
  const seal = (id: string, published_at: string | null) => ({
    scope,
    revision_id: id,
    state: published_at ? ('published' as const) : ('pending' as const),
    published_at,
    format: 'platform-events',
  });
  const revisions = [
    seal('s001', '2026-11-02T00:00:00.000Z'),
    seal('s002', '2026-11-02T00:01:00.000Z'),
    seal('s003', '2026-11-02T00:02:00.000Z'),
    seal('s004', null),
    {
      scope: 'aws:cur:2026-11',
      revision_id: 'r1',
      state: 'published' as const,
      published_at: '2026-11-01T00:00:00.000Z',
      format: 'aws-cur-legacy',
    },
  ];

  it('sees every seal published by then, not only the newest, as the alias does', () => {
    expect(keysVisibleAt(revisions, t('2026-11-02T00:01:30.000Z'))).toEqual([
      'aws:cur:2026-11@r1',
      `${scope}@s001`,
      `${scope}@s002`,
    ]);
  });

  it('reads them with one range per scope up to the newest seal published then, and the other scopes by key', () => {
    const visible = revisionsVisibleAt(revisions, t('2026-11-02T00:01:30.000Z'));
    expect(visibleAtFilter(visible)).toEqual(
      usageAliasFilter(['aws:cur:2026-11@r1'], new Map([[scope, 's002']])),
    );
  });
});
