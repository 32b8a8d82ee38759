import os from 'node:os';
import { Serializer } from '@elastic/elasticsearch';
import { loadConfig } from '../runtime/config';
import { AvroTypes, type UsageRecord } from '../schemas';
import { bulkActionJson, bulkBody } from '../sinks/elasticsearch/bulk';
import { toUsageDocument, usageDocumentJson } from '../sinks/elasticsearch/indices';
import { usageDocumentFromAvro } from '../sinks/elasticsearch/usage-json';
import { ratedWorkload } from './workload/rated';

/**
 * The sink's own work per document, without Kafka, and what a bulk answer costs it:
 *
 * 1. N rated records (bench/workload/rated.ts) as the sink meets them, decoded from the rated
 *    topic's Avro; then, best of 5 rounds each, the document JSON built the earlier way (spread the
 *    record into a new object with the derived fields, then JSON.stringify it) and the current way
 *    (`usageDocumentJson`: the record's own JSON with the derived fields appended), checked equal.
 *    Then from the rated topic's bytes, decoding included: decode + `usageDocumentJson`, against
 *    `usageDocumentFromAvro` (the JSON written straight from the Avro bytes), checked equal.
 * 2. One bulk request of 1,000 of these documents to the local Elasticsearch, answered in full and
 *    with the sink's `filter_path` (status and error per item): bytes per item, and the CPU the
 *    Elasticsearch client's own deserializer (secure-json-parse) spends on each answer per 1M documents.
 *
 *   npm run bench -- sink-documents [rows]
 */
function bestOf(rounds: number, fn: () => void): number {
  let best = Infinity;
  for (let i = 0; i < rounds; i++) {
    const t0 = process.hrtime.bigint();
    fn();
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1e9);
  }
  return best;
}

const SINK_FILTER = 'errors,items.*.status,items.*.error';

export async function benchSinkDocuments(rows: number): Promise<Record<string, string | number>> {
  const values = ratedWorkload(rows, 'aws/bench/2026-10', 'r1').map((r) => AvroTypes.usageRecord.toBuffer(r));
  const records = values.map((v) => AvroTypes.usageRecord.fromBuffer(v) as UsageRecord);
  for (const v of values.slice(0, 1000))
    if (
      !usageDocumentFromAvro(v)?.json.equals(
        Buffer.from(usageDocumentJson(AvroTypes.usageRecord.fromBuffer(v) as UsageRecord)),
      )
    )
      throw new Error('document JSON from the Avro bytes differs');
  const decodeAppendSeconds = bestOf(5, () => {
    for (const v of values) usageDocumentJson(AvroTypes.usageRecord.fromBuffer(v) as UsageRecord);
  });
  const fromAvroSeconds = bestOf(5, () => {
    for (const v of values) usageDocumentFromAvro(v);
  });
  for (const r of records.slice(0, 1000))
    if (usageDocumentJson(r) !== JSON.stringify(toUsageDocument(r)))
      throw new Error(`document JSON differs for ${r.x_RecordId}`);
  const spreadSeconds = bestOf(5, () => {
    for (const r of records) JSON.stringify(toUsageDocument(r));
  });
  const appendSeconds = bestOf(5, () => {
    for (const r of records) usageDocumentJson(r);
  });

  const { config } = loadConfig({ env: {}, cwd: os.tmpdir() });
  const index = `bench-sink-documents-${process.pid}`;
  const body = bulkBody(
    records
      .slice(0, 1000)
      .map((r) => bulkActionJson({ index: { _index: index, _id: r.x_RecordId } }, usageDocumentJson(r), r)),
  );
  const answers: Record<string, string> = {};
  try {
    for (const [name, query] of [
      ['full', ''],
      ['filtered', `?filter_path=${SINK_FILTER}`],
    ]) {
      const res = await fetch(`${config.elasticsearch.node}/_bulk${query}`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-ndjson' },
        body,
      });
      answers[name] = await res.text();
      if (!res.ok) throw new Error(`bulk answered ${res.status}: ${answers[name].slice(0, 200)}`);
    }
  } finally {
    await fetch(`${config.elasticsearch.node}/${index}`, { method: 'DELETE' });
  }
  const parseCpu = (text: string) => {
    const buffer = Buffer.from(text);
    const serializer = new Serializer();
    const t = process.cpuUsage();
    for (let i = 0; i < 200; i++) serializer.deserialize(buffer.toString('utf8'));
    const u = process.cpuUsage(t);
    // 200 answers of 1,000 items: CPU seconds per 1M documents.
    return ((u.user + u.system) / 1e6 / 200) * 1000;
  };
  return {
    rows,
    'document JSON, spread then stringify: µs per document': +((spreadSeconds / rows) * 1e6).toFixed(2),
    'document JSON, record JSON + derived fields: µs per document': +((appendSeconds / rows) * 1e6).toFixed(
      2,
    ),
    'document JSON: CPU s per 1M documents saved': +(((spreadSeconds - appendSeconds) / rows) * 1e6).toFixed(
      1,
    ),
    'from the rated Avro bytes, decode + record JSON + derived fields: µs per document': +(
      (decodeAppendSeconds / rows) *
      1e6
    ).toFixed(2),
    'from the rated Avro bytes, JSON written from the bytes: µs per document': +(
      (fromAvroSeconds / rows) *
      1e6
    ).toFixed(2),
    'bulk answer bytes per item, full / filter_path': `${Math.round(answers.full.length / 1000)} / ${Math.round(answers.filtered.length / 1000)}`,
    'bulk answer parse, CPU s per 1M documents, full / filter_path': `${parseCpu(answers.full).toFixed(2)} / ${parseCpu(answers.filtered).toFixed(2)}`,
  };
}
