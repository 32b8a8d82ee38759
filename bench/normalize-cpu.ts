import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { KafkaMessage } from 'kafkajs';
import { Registry } from 'prom-client';
import { openLines } from '../collectors/core/read-lines';
import { RawBatcher, rawBatchMessage } from '../collectors/core/raw-batches';
import { normalizeProcessor } from '../processors/normalize/stage';
import { readOfflineNormalizeOptions } from '../processors/offline/config';
import { LocalFolderStore } from '../processors/offline/fs-store';
import type { MeterflowConfig } from '../runtime/config';
import { createStageMetrics } from '../runtime/metrics';
import { AvroTypes, type UsageRecord } from '../schemas';
import { decodeRawBatch } from '../schemas/raw-batch-codec';
import { decodeUsageRecords } from '../schemas/usage-record-batch';
import { writeCurCsvGz } from './workload/cur';

/**
 * The normalize stage's own work, without Kafka: N generated CUR rows are read and batched as the
 * collector writes them to the raw topic (not timed); then the stage function (decode the raw
 * batches, map to FOCUS, encode the normalized batches) runs over them, 20 messages per call as a
 * fetch delivers them, best of 5 rounds. Beside it, two of its parts alone: decoding the raw
 * batches, and avsc encoding the resulting UsageRecords. The gap between this and
 * `processor-stages` (the same stage reading and writing Kafka) is what Kafka costs the stage.
 *
 *   npm run bench -- normalize-cpu [rows]
 */
function bestOf(rounds: number, fn: () => void | Promise<void>): Promise<number> {
  return (async () => {
    let best = Infinity;
    for (let i = 0; i < rounds; i++) {
      const t0 = process.hrtime.bigint();
      await fn();
      best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1e9);
    }
    return best;
  })();
}

export async function benchNormalizeCpu(rows: number): Promise<Record<string, string | number>> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meterflow-bench-normalize-'));
  try {
    await writeCurCsvGz(path.join(dir, 'cur.csv.gz'), rows, 42, {});
    const batcher = new RawBatcher();
    const constants = {
      provider: 'aws',
      format: 'aws-cur-legacy',
      scope: 'aws/bench/report/2026-11',
      revision_id: 'assembly-1',
      billing_period: '2026-11',
      object: 's3://bench/report/cur.csv.gz',
    };
    for await (const line of await openLines(new LocalFolderStore(dir, 'local://bench'), 'cur.csv.gz'))
      if (line.kind === 'row') batcher.add(constants, line.line, line.header, line.values);
    const raw = batcher.take().map(
      (m, i) =>
        ({
          ...rawBatchMessage(m),
          key: null,
          offset: String(i),
          timestamp: '0',
          attributes: 0,
        }) as unknown as KafkaMessage,
    );
    const config = { normalize: readOfflineNormalizeOptions(undefined) } as MeterflowConfig;
    const stage = normalizeProcessor(
      config,
      { normalized: 'n', deadLetter: 'dl' },
      createStageMetrics(new Registry(), 'bench'),
    );

    const stageSeconds = await bestOf(5, async () => {
      for (let i = 0; i < raw.length; i += 20) await stage(raw.slice(i, i + 20), 'raw', 0);
    });
    const decodeSeconds = await bestOf(5, () => {
      for (const m of raw) decodeRawBatch(m.value!);
    });
    const out = await stage(raw, 'raw', 0);
    const records: UsageRecord[] = out[0].messages.flatMap((m) =>
      decodeUsageRecords(m.value as Buffer, m.headers as never),
    );
    const buffer = Buffer.allocUnsafe(1024 * 1024);
    const encodeSeconds = await bestOf(5, () => {
      for (let i = 0; i < records.length; i += 500) {
        let pos = 0;
        for (let j = i; j < Math.min(i + 500, records.length); j++)
          pos = AvroTypes.usageRecord.type.encode(records[j], buffer, pos);
      }
    });
    return {
      rows,
      'raw messages': raw.length,
      'stage function: rows/s (no Kafka)': Math.round(rows / stageSeconds),
      'stage function: µs per row': +((stageSeconds / rows) * 1e6).toFixed(2),
      'raw batch decoding: µs per row': +((decodeSeconds / rows) * 1e6).toFixed(2),
      'avsc UsageRecord encoding: µs per record': +((encodeSeconds / records.length) * 1e6).toFixed(2),
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
