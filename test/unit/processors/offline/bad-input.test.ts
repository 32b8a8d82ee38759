import { copyFileSync, existsSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { discoverAwsDataExports } from '../../../../providers/aws/discovery';
import { LocalFolderStore, listFolder } from '../../../../processors/offline/fs-store';
import { runRate } from '../../../../processors/offline/rate';
import {
  CASES,
  NOT_YET_CORRECT,
  type BadInputCase,
  type Fails,
  type Rated,
} from '../../../fixtures/bad-input/cases';
import {
  BUCKET,
  badInput,
  inOrder,
  keyOf,
  layOut,
  manifestKeyOf,
  objectOf,
  offline,
  streaming,
} from './bad-input-harness';
import { Capture, sum } from './helpers';

/*
 * The bad-input corpus (test/fixtures/bad-input, expectations in its cases.ts): every case is laid
 * out as its provider's bucket and run through `meterflow rate` and through the collector's
 * streaming path. A rated case must count every line it read (rated + duplicates + dead letters),
 * name each dead letter's object, line and field, and give the same records and dead letters on
 * both paths; a failing case must fail on both paths with an error naming the file, and leave no
 * partial output behind.
 */

const MIB = 1024 * 1024;
const CUR2_HEADER =
  'identity_line_item_id,bill_billing_period_start_date,bill_billing_period_end_date,bill_payer_account_id,' +
  'line_item_usage_account_id,line_item_line_item_type,line_item_usage_start_date,line_item_usage_end_date,' +
  'line_item_product_code,line_item_usage_amount,line_item_unblended_cost,line_item_currency_code,' +
  'line_item_line_item_description';
const cur2Line = (id: string, cost: string, description: string) =>
  `${id},2026-03-01T00:00:00Z,2026-04-01T00:00:00Z,111111111111,222222222222,Usage,2026-03-03T00:00:00Z,` +
  `2026-03-03T01:00:00Z,AmazonEC2,1,${cost},USD,${description}`;

/** The objects of a generated case (too big to commit, or a link git would not keep as such). */
function generatedFiles(c: BadInputCase): Record<string, Buffer> {
  switch (c.generated) {
    case 'wide-row':
      return {
        'wide-row.csv': Buffer.from(
          [CUR2_HEADER, cur2Line('l1', '3', 'ok'), cur2Line('l2', '5', 'x'.repeat(300_000))]
            .concat(cur2Line('l3', '4', 'ok'), '')
            .join('\n'),
        ),
      };
    case 'csv-record-over-limit':
      return {
        'long-line.csv': Buffer.from(
          [CUR2_HEADER, cur2Line('l1', '3', 'ok'), cur2Line('l2', '4', 'x'.repeat(17 * MIB)), ''].join('\n'),
        ),
      };
    case 'jsonl-line-over-limit':
      return {
        'long-line.jsonl': Buffer.from(`{"cost":1,"currency":"USD","x":"${'x'.repeat(17 * MIB)}"}\n`),
      };
    default:
      return {};
  }
}

async function errorOf(run: () => Promise<unknown>): Promise<Error> {
  try {
    await run();
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected the run to fail, and it did not');
}

async function expectRated(c: BadInputCase, x: Rated, root: string, out: string): Promise<void> {
  const o = await offline(c, root, out);
  const s = o.summary;

  // Nothing lost: every line read is rated, a duplicate read, or a dead letter.
  expect(s.rows_in).toBe(x.read);
  expect(s.rows_out).toBe(x.rated);
  expect(s.duplicates).toBe(x.duplicates ?? 0);
  expect(s.dead_letters_total).toBe(x.letters.length);
  expect(s.rows_in).toBe(s.rows_out + s.duplicates + s.dead_letters_total);
  expect(o.lines).toHaveLength(x.rated);

  // Each dead letter names its object, line and field, with a typed reason.
  const expectedLetters = x.letters.map((l) => ({
    stage: l.stage,
    reason: l.reason,
    object: objectOf(c.layout, l.file ?? c.files[0]),
    line: l.line,
    field: l.field,
  }));
  expect(inOrder(o.letters)).toEqual(expectedLetters);

  // Exact totals per currency, in the summary and in the records written.
  const records = o.lines.map((l) => JSON.parse(l) as Record<string, string | null>);
  expect(s.billed_cost).toEqual(x.billed);
  const currencies = [...new Set(records.map((r) => r.BillingCurrency as string))];
  expect(
    Object.fromEntries(
      currencies.map((cur) => [
        cur,
        sum(records.filter((r) => r.BillingCurrency === cur).map((r) => r.BilledCost)),
      ]),
    ),
  ).toEqual(x.billed);
  for (const [field, values] of Object.entries(x.fields ?? {})) {
    expect(records.map((r) => r[field])).toEqual(values);
  }
  expect(new Set(records.map((r) => r.x_RecordId)).size).toBe(records.length);
  expect(s.warnings).toHaveLength((x.warnings ?? []).length);
  (x.warnings ?? []).forEach((w, i) => expect(s.warnings[i]).toContain(w));

  // The streaming path: the same records, byte for byte, and the same dead letters.
  const st = await streaming(c, root);
  expect([...st.lines].sort()).toEqual([...o.lines].sort());
  expect(inOrder(st.letters)).toEqual(expectedLetters);
}

async function expectFails(c: BadInputCase, x: Fails, root: string, out: string): Promise<void> {
  const named = x.asWritten
    ? x.names
    : x.names === 'manifest'
      ? manifestKeyOf(c.layout, !!c.manifest)
      : keyOf(c.layout, x.names);
  const off = await errorOf(() => offline(c, root, out));
  expect(off.message).toContain(named);
  expect(off.message).toContain(x.message);
  // No partial output: neither the records nor the dead letters of a failed run appear.
  expect(existsSync(out)).toBe(false);
  expect(existsSync(`${out}.dead-letters.ndjson`)).toBe(false);

  const st = await errorOf(() => streaming(c, root));
  expect(st.message).toContain(named);
}

describe('bad input: meterflow rate and the streaming path', () => {
  it('the corpus is big enough and every case is unique', () => {
    expect(CASES.length).toBeGreaterThanOrEqual(40);
    expect(new Set(CASES.map((c) => c.id)).size).toBe(CASES.length);
    const used = new Set(CASES.flatMap((c) => [...c.files, ...(c.manifest ? [c.manifest] : [])]));
    for (const f of used) expect(existsSync(badInput(f))).toBe(true);
    // Every committed file is a case's input or a known defect's reproduction, nothing else.
    const committed = ['aws', 'azure', 'gcp', 'focus'].flatMap((d) =>
      readdirSync(badInput(d)).map((f) => `${d}/${f}`),
    );
    const reproductions = NOT_YET_CORRECT.map((d) => d.file);
    expect(committed.filter((f) => !used.has(f) && !reproductions.includes(f))).toEqual([]);
    expect(reproductions.filter((f) => used.has(f) || !committed.includes(f))).toEqual([]);
  });

  it.each(CASES.map((c) => [c.id, c] as const))(
    '%s',
    async (_id, c) => {
      const dir = mkdtempSync(join(tmpdir(), 'meterflow-bad-input-'));
      try {
        const root = join(dir, BUCKET);
        layOut(root, c, generatedFiles(c));
        // Beside the bucket, where a manifest entry climbing out of it would point.
        if (c.generated === 'outside-file')
          copyFileSync(badInput('aws', 'good.csv'), join(dir, 'outside.csv'));
        if (c.generated === 'symlink-loop') {
          // A link to the folder itself, and one from deep inside back up to the root.
          symlinkSync('.', join(root, 'self'));
          symlinkSync(root, join(root, keyOf(c.layout, 'up')));
        }
        const out = join(dir, 'rated.ndjson');
        if (c.expect.kind === 'rated') await expectRated(c, c.expect, root, out);
        else await expectFails(c, c.expect, root, out);

        if (c.singleFileFails !== undefined) {
          const file = badInput(c.files[0]);
          const err = await errorOf(() =>
            runRate({
              provider: c.provider,
              input: file,
              out: join(dir, 'single.ndjson'),
              stderr: new Capture(),
            }),
          );
          expect(err.message).toContain(c.singleFileFails);
          expect(err.message).toContain(c.files[0].split('/').pop());
        }
        if (c.collectorRefuses !== undefined) {
          const store = new LocalFolderStore(root, `local://${BUCKET}`);
          const err = await errorOf(async () =>
            discoverAwsDataExports({
              bucket: BUCKET,
              prefix: '',
              objects: await listFolder(root),
              readJson: (key) => store.readJson(key),
              checkBucket: true,
            }),
          );
          expect(err.message).toContain(c.collectorRefuses);
          expect(err.message).toContain(manifestKeyOf(c.layout, !!c.manifest));
        }
        if (c.id === 'aws/zip-slip-entry') {
          // Nothing was written where the entry name points.
          expect(existsSync(join(root, '..', '..', 'evil.csv'))).toBe(false);
          expect(existsSync(join(tmpdir(), 'evil.csv'))).toBe(false);
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
    60_000,
  );
});
