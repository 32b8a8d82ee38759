import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { runRate, type RateSummary } from '../../../../processors/offline/rate';
import { fixture } from '../../../support/fixtures';
import type { BadInputCase, Layout } from '../../../fixtures/bad-input/cases';
import { Capture, readNdjson } from './helpers';
import { streamingPath, type LetterKey } from './paths-agree';

/*
 * Lays the files of one bad-input case out as a bucket (the layout its provider's discovery reads)
 * and runs the folder through both paths: `meterflow rate` (runRate) and the collector's streaming
 * path (discovery, readers, row admission, then the normalize, dedupe and price stage functions).
 */

export const BUCKET = 'acme-billing';

/** The case files live here; `files` and `manifest` of a case are relative to it. */
export const badInput = (...parts: string[]): string => fixture('bad-input', ...parts);

const CUR2_DIR = 'exports/cur2-daily/data/BILLING_PERIOD=2026-03/exec-1';
const CUR2_MANIFEST = 'exports/cur2-daily/metadata/BILLING_PERIOD=2026-03/cur2-daily-Manifest.json';
const FOCUS_DIR = 'exports/focus-daily/data/BILLING_PERIOD=2026-03/exec-1';
const FOCUS_MANIFEST = 'exports/focus-daily/metadata/BILLING_PERIOD=2026-03/focus-daily-Manifest.json';
const LEGACY_PERIOD = 'cur/report/20180601-20180701';
const LEGACY_ASSEMBLY = '3c3c3c3c-0000-4000-8000-000000000003';
const AZURE_RUN = 'exports/daily-actual/20230901-20230930/run-1';
const GCP_RUN = 'gcp-exports/01A2B3-C4D5E6-F7A8B9/202403/run=20240305T030000Z';

/** Where a case file lands in the bucket, by layout. */
export function keyOf(layout: Layout, file: string): string {
  const name = basename(file);
  switch (layout) {
    case 'aws-cur2':
      return `${CUR2_DIR}/${name}`;
    case 'aws-focus':
      return `${FOCUS_DIR}/${name}`;
    case 'aws-legacy-cur':
      return `${LEGACY_PERIOD}/${LEGACY_ASSEMBLY}/${name}`;
    case 'azure-actual':
      return `${AZURE_RUN}/${name}`;
    case 'gcp':
      return `${GCP_RUN}/part-${name}`;
  }
}

/**
 * The key of the manifest (or GCP run marker) of a layout; a committed GCP marker has content, so it
 * is written under the name BigQuery's EXPORT DATA gives it.
 */
export function manifestKeyOf(layout: Layout, committed = false): string {
  switch (layout) {
    case 'aws-cur2':
      return CUR2_MANIFEST;
    case 'aws-focus':
      return FOCUS_MANIFEST;
    case 'aws-legacy-cur':
      return `${LEGACY_PERIOD}/report-Manifest.json`;
    case 'azure-actual':
      return `${AZURE_RUN}/manifest.json`;
    case 'gcp':
      return committed ? `${GCP_RUN}/_SUCCESS-000000000000.json` : `${GCP_RUN}/_SUCCESS`;
  }
}

/** The lineage URL of a case file, as dead letters and errors name it. */
export const objectOf = (layout: Layout, file: string): string => `local://${BUCKET}/${keyOf(layout, file)}`;

/** The manifest a delivery of `keys` would carry (what the provider writes after the data). */
function generatedManifest(layout: Layout, keys: string[]): string | undefined {
  switch (layout) {
    case 'aws-cur2':
    case 'aws-focus':
      return JSON.stringify({
        executionId: 'exec-1',
        billingPeriod: { start: '2026-03-01T00:00:00.000Z', end: '2026-04-01T00:00:00.000Z' },
        dataFiles: keys.map((k) => `s3://${BUCKET}/${k}`),
      });
    case 'aws-legacy-cur':
      return JSON.stringify({
        assemblyId: LEGACY_ASSEMBLY,
        reportName: 'report',
        bucket: BUCKET,
        billingPeriod: { start: '20180601T000000.000Z', end: '20180701T000000.000Z' },
        reportKeys: keys,
        compression: 'ZIP',
        contentType: 'text/csv',
      });
    case 'azure-actual':
      return JSON.stringify({
        manifestVersion: '2024-04-01',
        exportConfig: { exportName: 'daily-actual', dataVersion: '2021-10-01', type: 'ActualCost' },
        runInfo: { runId: 'run-1', submittedTime: '2023-09-22T04:00:00Z' },
        blobs: keys.map((k) => ({ blobName: k })),
      });
    case 'gcp':
      return undefined;
  }
}

function place(root: string, key: string, from: string | Buffer): void {
  const path = join(root, ...key.split('/'));
  mkdirSync(dirname(path), { recursive: true });
  if (typeof from === 'string') copyFileSync(from, path);
  else writeFileSync(path, from);
}

/**
 * Writes the bucket of a case under `root` (which must end in BUCKET): its files as data objects
 * and its manifest (the committed one when the case names it, else the one a delivery would carry).
 * `extra` adds generated objects (file name -> bytes) after the committed files.
 */
export function layOut(root: string, c: BadInputCase, extra: Record<string, Buffer> = {}): void {
  const keys: string[] = [];
  for (const f of c.files) {
    place(root, keyOf(c.layout, f), badInput(f));
    keys.push(keyOf(c.layout, f));
  }
  for (const [name, bytes] of Object.entries(extra)) {
    place(root, keyOf(c.layout, name), bytes);
    keys.push(keyOf(c.layout, name));
  }
  if (c.layout === 'gcp') {
    place(root, manifestKeyOf('gcp', !!c.manifest), c.manifest ? badInput(c.manifest) : Buffer.alloc(0));
  } else if (c.manifest) {
    place(root, manifestKeyOf(c.layout), badInput(c.manifest));
  } else {
    place(root, manifestKeyOf(c.layout), Buffer.from(generatedManifest(c.layout, keys)!));
  }
}

export interface OfflineResult {
  summary: RateSummary;
  lines: string[];
  letters: LetterKey[];
}

/** `meterflow rate --provider <p> --input <root> --out <out>`, in process. */
export async function offline(c: BadInputCase, root: string, out: string): Promise<OfflineResult> {
  const summary = await runRate({ provider: c.provider, input: root, out, stderr: new Capture() });
  const lines = readFileSync(out, 'utf8').split('\n').filter(Boolean);
  const letters = readNdjson(`${out}.dead-letters.ndjson`).map((d) => ({
    stage: d.stage as string,
    reason: d.reason as string,
    object: d.object as string,
    line: d.line as number,
    field: d.field as string | null,
  }));
  return { summary, lines, letters };
}

/** The collector's source half and the three processor stages, without a broker. */
export function streaming(c: BadInputCase, root: string): Promise<{ lines: string[]; letters: LetterKey[] }> {
  return streamingPath(c.provider, root, BUCKET, {});
}

/** Dead letters in file order (object, line, stage), so both paths compare as lists. */
export function inOrder(letters: LetterKey[]): LetterKey[] {
  const key = (l: LetterKey) => `${l.object}\u0000${String(l.line).padStart(9, '0')}\u0000${l.stage}`;
  return [...letters].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}
