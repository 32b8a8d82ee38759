import {
  DEFAULT_INVOICE_OPTIONS,
  finalizeInvoices,
  generateInvoices,
  regenerateInvoice,
} from '../../../invoices';
import { loadPriceBook } from '../../../processors/price/price-book';
import { rerateRevisionId, type RerateCheckpoint } from '../../../processors/rerate';
import { AvroTypes, type AuditEvent } from '../../../schemas';
import { readTopic } from '../collectors/kafka-read';
import { exitOf } from '../helpers';
import {
  decodeControl,
  decodeRecord,
  expectedCost,
  rated,
  revisionDoc,
  Stack,
  sum,
  V1,
  V2,
  writeBook,
} from './rerate-stack';

/**
 * `meterflow pricebook rerate` on the real Kafka and Elasticsearch, with the real sink and revision
 * publisher: published usage rated with book v1, then v2 (compute 15% -> 20%) is published and the
 * usage re-rated from a date. The re-rated revisions go through the rated and control topics like
 * any restatement; the publisher publishes them once they reconcile.
 */
describe('pricebook rerate on the real stack', () => {
  jest.setTimeout(240_000);
  const stacks: Stack[] = [];
  const stack = () => {
    const s = new Stack();
    stacks.push(s);
    return s;
  };
  afterAll(async () => {
    for (const s of stacks) await s.stop();
  });

  it('re-rates published usage from the date: exact totals, x_PriceBookVersion v2, an audit event', async () => {
    const s = stack();
    const A = 'aws/acct-1/2026-10';
    const B = 'aws/acct-2/2026-10';
    const usage = [
      rated(A, 'ra', '2026-10', '05', 'AmazonEC2', '10'), // before the date: stays 11.5 (v1)
      rated(A, 'ra', '2026-10', '12', 'AmazonEC2', '0.1'), // 0.115 -> 0.12
      rated(A, 'ra', '2026-10', '20', 'AmazonS3', '20'), // 22 -> 22 (storage unchanged), now v2
      rated(B, 'rb', '2026-10', '15', 'AmazonEC2', '0.2'), // 0.23 -> 0.24
    ];
    await s.start(usage);
    await s.publishBook(V1);

    // Only the published book may re-rate; usage errors exit 2 before anything is contacted.
    const notCurrent = await s.cli(['v2', '--from', '2026-10-10']);
    expect(notCurrent.code).toBe(1);
    expect(notCurrent.stderr).toContain('price book version v2 is not the published one (v1 is)');
    const badDate = await s.cli(['v2', '--from', '2026-02-30']);
    expect(badDate.code).toBe(2);
    expect(badDate.stderr).toContain('--from 2026-02-30');

    await s.publishBook(V2);
    const run = await s.cli(['v2', '--from', '2026-10-10']);
    expect(run.stderr).toContain(`rerate v2: scope 1/2 ${A} -> ra+rr-v2: 3 records, 2 re-rated`);
    expect(run.stderr).toContain(`rerate v2: scope 2/2 ${B} -> rb+rr-v2: 1 records, 1 re-rated`);
    expect(run.stderr).toContain('4/4 records');
    expect(run.code).toBe(0);
    // Re-rated: 0.115 + 22 + 0.23 = 22.345 -> 0.12 + 22 + 0.24 = 22.36.
    expect(run.stdout).toContain('USD 22.345 -> 22.36 (change 0.015)');

    await s.publishedAs(
      new Map([
        [A, 'ra+rr-v2'],
        [B, 'rb+rr-v2'],
      ]),
    );
    const published = await s.publishedUsage();
    expect(published).toHaveLength(usage.length);
    const from = '2026-10-10';
    const byLine = new Map(published.map((r) => [r.x_SourceLine, r]));
    for (const r of usage) {
      const now = byLine.get(r.x_SourceLine)!;
      expect(now.x_Revision).toBe(rerateRevisionId(r.x_Revision, 'v2'));
      expect(now.x_RatedCost).toBe(expectedCost(r, from));
      expect(now.x_PriceBookVersion).toBe(r.ChargePeriodStart >= from ? 'v2' : 'v1');
    }
    // 11.5 + 0.12 + 22 + 0.24, from 11.5 + 0.115 + 22 + 0.23 = 33.845.
    expect(sum(usage)).toBe('33.845');
    expect(sum(published)).toBe('33.86');

    const audit = await readTopic(
      s.kafka,
      s.topics.audit,
      (v) => AvroTypes.auditEvent.fromBuffer(v) as AuditEvent,
    );
    expect(audit.filter((e) => e.action === 'pricebook.rerated').map((e) => [e.target, e.effect])).toEqual([
      [
        'version v2 from 2026-10-10',
        expect.objectContaining({
          version: 'v2',
          from: '2026-10-10',
          scopes: '2',
          scope_list: `${A},${B}`,
          records: '4',
          rerated_records: '3',
          old_total_USD: '22.345',
          new_total_USD: '22.36',
          change_USD: '0.015',
        }),
      ],
    ]);

    // Again: every scope is re-rated already (its published records carry v2), nothing is written.
    const again = await s.cli(['v2', '--from', '2026-10-10']);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('re-rated 0 scope(s)');
  });

  it('killed with -9 inside a scope and run again: every record re-rated exactly once, totals exact', async () => {
    const s = stack();
    const scopes = ['aws/acct-1/2026-11', 'aws/acct-2/2026-11', 'aws/acct-3/2026-11'];
    const usage = scopes.flatMap((scope, i) => [
      rated(scope, `r${i}`, '2026-11', '03', 'AmazonEC2', '1.01'),
      rated(scope, `r${i}`, '2026-11', '04', 'AmazonEC2', '2.02'),
    ]);
    await s.start(usage);
    await s.publishBook(V2);

    // Paused inside the second scope's open transaction, after its records and checkpoint were
    // sent: killed there, that transaction never commits.
    const first = s.run(['v2', '--from', '2026-11-01'], { MF_TEST_RERATE_PAUSE_IN_SCOPE: '2' });
    let stderr = '';
    const paused = new Promise<void>((resolve) =>
      first.stderr!.on('data', (d: Buffer) => {
        stderr += d.toString();
        if (stderr.includes('paused in scope')) resolve();
      }),
    );
    await paused;
    expect(stderr).toContain(`scope 1/3 ${scopes[0]}`);
    first.kill('SIGKILL');
    await exitOf(first);
    const second = await s.cli(['v2', '--from', '2026-11-01']);
    expect(second.code).toBe(0);
    expect(second.stdout).toContain('re-rated 3 scope(s) (1 committed by an earlier run), 6 of 6 records');
    // The audit event of the resumed run covers the whole re-rate, the killed run's scope included.
    const audit = await readTopic(
      s.kafka,
      s.topics.audit,
      (v) => AvroTypes.auditEvent.fromBuffer(v) as AuditEvent,
    );
    expect(audit.map((e) => e.effect)).toEqual([
      expect.objectContaining({
        scopes: '3',
        scopes_resumed: '1',
        records: '6',
        rerated_records: '6',
        old_total_USD: '10.4535',
        new_total_USD: '10.908',
        change_USD: '0.4545',
      }),
    ]);
    // Only the two scopes not committed before are written now.
    expect(second.stderr).toContain(`scope 1/2 ${scopes[1]}`);
    expect(second.stderr).toContain(`scope 2/2 ${scopes[2]}`);

    // The killed run's open transaction held read_committed readers at its first offset; the second
    // run's producer (same transactional id) aborted it. One committed checkpoint per scope.
    const checkpoints = await readTopic(
      s.kafka,
      s.topics.rerateCheckpoints,
      (v) => JSON.parse(v.toString()) as RerateCheckpoint,
    );
    // (The run's end record, `run@v2@2026-11-01`, is on the topic too.)
    const scopeCheckpoints = checkpoints.filter((c) => c.revision_id !== undefined);
    expect(scopeCheckpoints.map((c) => [c.scope, c.revision_id, c.records, c.rerated]).sort()).toEqual(
      scopes.map((scope, i) => [scope, `r${i}+rr-v2`, 2, 2]),
    );

    // What read_committed consumers (the sink) see: each source line re-rated exactly once.
    const rows = await readTopic(s.kafka, s.topics.rated, decodeRecord);
    expect(rows.map((r) => `${r.x_Scope}#${r.x_SourceLine}`).sort()).toEqual(
      usage.map((r) => `${r.x_Scope}#${r.x_SourceLine}`).sort(),
    );
    expect(new Set(rows.map((r) => r.x_RecordId)).size).toBe(usage.length);
    const completed = (await readTopic(s.kafka, s.topics.control, decodeControl)).filter(
      (c) => c.type === 'REVISION_COMPLETED',
    );
    expect(completed.map((c) => [c.scope, c.revision_id, c.row_count]).sort()).toEqual(
      scopes.map((scope, i) => [scope, `r${i}+rr-v2`, 2]),
    );

    await s.publishedAs(new Map(scopes.map((scope, i) => [scope, `r${i}+rr-v2`])));
    const published = await s.publishedUsage();
    // (1.01 + 2.02) * 1.2 * 3 = 10.908, from (1.01 + 2.02) * 1.15 * 3 = 10.4535.
    expect(sum(usage)).toBe('10.4535');
    expect(sum(published)).toBe('10.908');
    expect(published.every((r) => r.x_PriceBookVersion === 'v2')).toBe(true);
  });

  it('publish --rerate-from: a finalized period gets an adjustment line on the next invoice naming the version, and its invoice still regenerates bit for bit', async () => {
    const s = stack();
    const JAN = 'aws/acct-1/2026-01';
    const FEB = 'aws/acct-1/2026-02';
    const usage = [
      rated(JAN, 'j1', '2026-01', '10', 'AmazonEC2', '100'), // 115 -> 120
      rated(FEB, 'f1', '2026-02', '10', 'AmazonEC2', '50'), // 57.5 -> 60
    ];
    await s.start(usage);
    const book1 = loadPriceBook(writeBook(s, V1));
    await generateInvoices({
      es: s.es,
      names: s.names,
      book: book1,
      options: DEFAULT_INVOICE_OPTIONS,
      period: '2026-01',
    });
    const [jan] = await finalizeInvoices({ es: s.es, names: s.names, period: '2026-01', customer: 'acme' });
    expect(jan.error).toBeNull();
    expect(jan.invoice!.total).toBe('115.00');

    // Publishing with --rerate-from is the one step: publish v2, then re-rate with it. A date that is
    // no calendar day is a usage error found before anything is published.
    const badDate = await s.cli([writeBook(s, V2), '--rerate-from', '2026-01-32'], 'publish');
    expect(badDate.code).toBe(2);
    expect(badDate.stderr).toContain('--rerate-from 2026-01-32: expected a calendar date YYYY-MM-DD');
    expect(badDate.stdout).not.toContain('published');
    const run = await s.cli([writeBook(s, V2), '--rerate-from', '2026-01-01'], 'publish');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('published price book version v2');
    expect(run.stdout).toContain('re-rated 2 scope(s) (0 committed by an earlier run), 2 of 2 records');
    await s.publishedAs(
      new Map([
        [JAN, 'j1+rr-v2'],
        [FEB, 'f1+rr-v2'],
      ]),
    );

    const book2 = loadPriceBook(writeBook(s, V2));
    const [feb] = await generateInvoices({
      es: s.es,
      names: s.names,
      book: book2,
      options: DEFAULT_INVOICE_OPTIONS,
      period: '2026-02',
      customer: 'acme',
    });
    const lines = feb.invoice!.lines;
    const adjustment = lines.find((l) => l.kind === 'adjustment')!;
    expect(adjustment).toMatchObject({
      amount: '5.00',
      adjusts: { period: '2026-01', billed_amount: '115.00', current_amount: '120.00' },
    });
    expect(adjustment.adjusts!.cause).toContain('re-rated with price book version v2');
    expect(adjustment.adjusts!.cause).toContain(`${JAN}@j1+rr-v2`);
    // February's own usage at the new price, plus January's adjustment.
    expect(feb.invoice!.total).toBe('65.00');

    // The finalized January invoice is still reproduced bit for bit after the re-rate: from the
    // revision it recorded (j1, now superseded and kept as history), not from the alias's j1+rr-v2.
    const again = await regenerateInvoice({
      es: s.es,
      names: s.names,
      invoice: jan.invoice!.number!,
      book: book1,
      options: DEFAULT_INVOICE_OPTIONS,
    });
    expect(again.differences).toEqual([]);
    expect(again.identical).toBe(true);
    expect(again.recomputed!.fingerprint).toBe(jan.invoice!.fingerprint);
    // Read from the revisions published when it was finalized (January's j1 and February's f1).
    expect(again.revisions.sort()).toEqual([`${JAN}@j1`, `${FEB}@f1`]);
  });

  it('writes nothing when the book cannot price a record; holds a scope with a newer revision on its way, skips first-party scopes', async () => {
    const s = stack();
    const OK = 'aws/acct-1/2026-12';
    const HELD = 'aws/acct-2/2026-12';
    const EVENTS = 'platform/ingest-1/2026-12';
    const usage = [
      rated(OK, 'ok1', '2026-12', '10', 'AmazonS3', '3'),
      rated(OK, 'ok1', '2026-12', '11', 'AmazonEC2', '4'), // 4.6 -> 4.8
      rated(HELD, 'h1', '2026-12', '10', 'AmazonEC2', '5'),
      rated(EVENTS, 's1', '2026-12', '10', 'AmazonEC2', '6'),
    ];
    // HELD: a restated revision h2 is indexed and waiting to be published.
    const h2 = {
      ...revisionDoc([{ ...usage[2], x_Revision: 'h2' }]),
      state: 'pending' as const,
      completed_offset: 7,
    };
    await s.start(usage, { formats: { s1: 'platform-events' }, others: [h2] });

    // v3 has no storage rule: the S3 record cannot be priced, and nothing at all is written.
    await s.publishBook(V2.replace('version: v2', 'version: v3').replace(/^.*storage.*$/m, ''));
    const refused = await s.cli(['v3', '--from', '2026-12-01']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(
      'price book v3 cannot price 1 published record(s); nothing was re-rated',
    );
    expect(refused.stderr).toContain(`${OK} record ${usage[0].x_RecordId}: unpriced`);
    expect(await readTopic(s.kafka, s.topics.rated, decodeRecord)).toEqual([]);

    await s.publishBook(V2);
    const run = await s.cli(['v2', '--from', '2026-12-01']);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`held ${HELD}: revision h2 (pending) is newer than the published h1`);
    expect(run.stderr).toContain(`skipped ${EVENTS}: first-party events scope`);
    expect(run.stderr).toContain('1 scope(s) held, not re-rated');
    expect(run.stdout).toContain('re-rated 1 scope(s) (0 committed by an earlier run), 2 of 2 records');
    expect(run.stdout).toContain('USD 7.9 -> 8.1 (change 0.2)');
    const rows = await readTopic(s.kafka, s.topics.rated, decodeRecord);
    expect(rows.map((r) => [r.x_Scope, r.x_Revision, r.x_RatedCost]).sort()).toEqual([
      [OK, 'ok1+rr-v2', '3.3'],
      [OK, 'ok1+rr-v2', '4.8'],
    ]);
  });
});
