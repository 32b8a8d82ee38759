import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { readCsvRows } from '../collectors/formats/csv-rows';
import { readJsonlRows } from '../collectors/formats/jsonl-rows';
import { gcpDemoRows } from '../deploy/demo/demo';
import { writeGzLines } from './workload/clouds';
import { writeCurCsvGz } from './workload/cur';

/**
 * Decompress + parse alone, per export format, with no Kafka: the ceiling a collector cannot beat.
 * Each format's N rows are written gzipped to a temp file (not timed), then read back twice: gunzip
 * only, and gunzip + meterflow's streaming parser (the collector's reader).
 *
 *   npm run bench -- parse-ceiling [rows]
 */
async function timeIt<T>(fn: () => Promise<T>): Promise<{ seconds: number; value: T }> {
  const t0 = process.hrtime.bigint();
  const value = await fn();
  return { seconds: Number(process.hrtime.bigint() - t0) / 1e9, value };
}

async function gunzipOnly(file: string): Promise<number> {
  let bytes = 0;
  await pipeline(fs.createReadStream(file), zlib.createGunzip(), async function* (source) {
    for await (const chunk of source) bytes += (chunk as Buffer).length;
  });
  return bytes;
}

function* azureRows(n: number): Generator<string> {
  // The public EA ActualCost sample's rows, repeated with the cost varied per line.
  const fixture = fs
    .readFileSync(
      path.join(__dirname, '../test/fixtures/azure/ea/finops-toolkit_EA_ActualCost_Small.csv'),
      'utf8',
    )
    .replace(/^\uFEFF/, '')
    .trimEnd()
    .split('\n');
  yield fixture[0];
  const data = fixture.slice(1);
  for (let i = 0; i < n; i++) yield data[i % data.length].replace(/,0\.(\d+),/, `,0.$1${i % 10},`);
}

export async function benchParseCeiling(rows: number): Promise<Record<string, string | number>> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meterflow-parse-'));
  const figures: Record<string, string | number> = { rows };
  try {
    const formats: Array<{ name: string; file: string; parse: (s: Readable) => AsyncGenerator<unknown> }> = [
      {
        name: 'AWS CUR csv.gz (151 columns)',
        file: path.join(dir, 'cur.csv.gz'),
        parse: (s) => readCsvRows(s, { object: 'cur.csv.gz' }),
      },
      {
        name: 'Azure EA ActualCost csv.gz',
        file: path.join(dir, 'azure.csv.gz'),
        parse: (s) => readCsvRows(s, { object: 'azure.csv.gz' }),
      },
      {
        name: 'GCP JSONL.gz',
        file: path.join(dir, 'gcp.jsonl.gz'),
        parse: (s) => readJsonlRows(s, { object: 'gcp.jsonl.gz' }),
      },
    ];
    await writeCurCsvGz(formats[0].file, rows);
    await writeGzLines(formats[1].file, azureRows(rows));
    await writeGzLines(formats[2].file, gcpDemoRows(rows));
    for (const f of formats) {
      const gz = await timeIt(() => gunzipOnly(f.file));
      const parsed = await timeIt(async () => {
        let n = 0;
        for await (const r of f.parse(fs.createReadStream(f.file).pipe(zlib.createGunzip())))
          if ((r as { kind: string }).kind === 'row') n++;
        return n;
      });
      if (parsed.value !== rows) throw new Error(`${f.name}: parsed ${parsed.value} of ${rows} rows`);
      const mb = gz.value / 1e6;
      figures[`${f.name}: MB uncompressed`] = +mb.toFixed(1);
      figures[`${f.name}: gunzip MB/s`] = Math.round(mb / gz.seconds);
      figures[`${f.name}: gunzip + parse rows/s`] = Math.round(rows / parsed.seconds);
      figures[`${f.name}: gunzip + parse MB/s`] = +(mb / parsed.seconds).toFixed(1);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return figures;
}
