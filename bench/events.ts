import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { generateApiKey, hashApiKey } from '../api/auth';
import { deploymentEvents } from './workload/events';
import { loadConfig } from '../runtime/config';
import { createKafka, ensureTopics } from '../runtime/kafka';
import { stackPaths } from '../deploy/stack/stack';
import { STACK_VERSIONS } from '../deploy/stack/versions';
import { EVENT_COLUMNS } from '../providers/platform/columns';
import { encodeRawBatch } from '../schemas/raw-batch-codec';
import { validateEvent, type ValidEvent } from '../ingest/cloudevents';
import { eventRecordIdOf } from '../schemas/record-id';
import { producerPerformance } from './kafka-ceiling';
import { sampleProcess } from './proc-sampler';

const API_PORT = 18791;
const BATCH = 500;
const CONCURRENCY = 8;

/**
 * First-party event ingest against Kafka's ceiling, in one run:
 *
 *   1. `meterflow api` (built, as deployed; run `npm run build` first) with events.enabled, in a
 *      child process whose CPU is sampled from /proc; this process sends N CloudEvents to POST
 *      /v1/events as application/cloudevents-batch+json, BATCH events per request, CONCURRENCY
 *      requests in flight, each answered only after its seal committed to Kafka. Reported: accepted
 *      events/s (N / wall time of the load) and the API process's CPU seconds per 1M events;
 *   2. Kafka's own producer ceiling on the same broker (ProducerPerformance, acks=all) for records
 *      of the size of one raw-topic message of BATCH events, as events/s (records/s x BATCH).
 *
 * The load generator shares the machine with the API and the broker, as the ceiling's tool does.
 *
 *   npm run bench -- events [N]
 */
export async function benchEvents(n: number): Promise<Record<string, string | number>> {
  const root = path.resolve(__dirname, '..');
  const { config } = loadConfig({ env: {}, cwd: os.tmpdir() });
  const prefix = `bench-events-${Date.now().toString(36)}`;
  const key = generateApiKey();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meterflow-bench-events-'));
  const configFile = path.join(dir, 'meterflow.yaml');
  fs.writeFileSync(
    configFile,
    [
      `kafka: { topic_prefix: ${prefix} }`,
      `elasticsearch: { index_prefix: ${prefix} }`,
      'log: { level: warn }',
      'events: { enabled: true, instance_id: bench, max_batch_events: 1000 }',
      'api:',
      `  port: ${API_PORT}`,
      '  rate_limit_per_second: 0',
      '  max_concurrent_requests: 64',
      '  keys:',
      `    - { id: bench, role: ingest, key_sha256: ${hashApiKey(key)}, sources: ['*'], customers: ['*'], events_per_second: 1000000000 }`,
      '',
    ].join('\n'),
  );
  const startApi = () =>
    spawn(process.execPath, [path.join(root, 'dist/cli/main.js'), '--config', configFile, 'api'], {
      cwd: root,
      stdio: ['ignore', 'ignore', 'inherit'],
    });
  let child = startApi();
  let sampler = sampleProcess(child);
  const url = `http://127.0.0.1:${API_PORT}`;
  const untilUp = async () => {
    for (let i = 0; ; i++) {
      const up = await fetch(`${url}/healthz`)
        .then((r) => r.ok)
        .catch(() => false);
      if (up) return;
      if (i > 1200) throw new Error('meterflow api did not start within 120 s');
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  try {
    await untilUp();
    const bodies: string[] = [];
    for (let i = 0; i < n; i += BATCH)
      bodies.push(JSON.stringify(deploymentEvents(i, Math.min(BATCH, n - i))));
    // Warm-up: connections, the first transaction, the JIT. Not counted.
    await send(url, key, JSON.stringify(deploymentEvents(n + 1, 10)));
    const cpuBefore = sampler.read().cpuSeconds;
    const started = process.hrtime.bigint();
    let next = 0;
    let accepted = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < bodies.length) {
          // Read the body before awaiting, add after: `accepted += await` would lose concurrent sums.
          const got = await send(url, key, bodies[next++]);
          accepted += got;
        }
      }),
    );
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const usage = sampler.read();
    if (accepted !== n) throw new Error(`${accepted} of ${n} events accepted`);
    const cpu = usage.cpuSeconds - cpuBefore;

    // A restart reads every accepted key back from the raw topic before it serves (ingest/recovery.ts).
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    sampler.stop();
    const restarted = Date.now();
    child = startApi();
    sampler = sampleProcess(child);
    await untilUp();
    const restartSeconds = (Date.now() - restarted) / 1000;
    const resent = await fetch(`${url}/v1/events`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/cloudevents-batch+json' },
      body: bodies[0],
    }).then((r) => r.json() as Promise<{ duplicates: number }>);
    if (resent.duplicates !== BATCH)
      throw new Error(`after the restart ${resent.duplicates} of ${BATCH} re-sent events were duplicates`);

    // Kafka's ceiling, same broker, same run: records the size of one raw message of BATCH events.
    const messageBytes = rawMessageBytes();
    const libs = path.join(stackPaths(config).cacheDir, `kafka-${STACK_VERSIONS.kafka}`, 'libs', '*');
    const topic = `${prefix}-ceiling`;
    const kafka = createKafka(config, 'bench-events');
    await ensureTopics(kafka, config, [{ topic }]);
    const records = Math.max(200, Math.ceil(n / BATCH));
    const ceiling =
      producerPerformance(libs, config.kafka.brokers.join(','), topic, records, messageBytes) * BATCH;
    const admin = kafka.admin();
    await admin.connect();
    await admin.deleteTopics({ topics: [topic, `${prefix}.raw.platform`] }).catch(() => undefined);
    await admin.disconnect();
    return {
      events: n,
      'batch (events per request)': BATCH,
      'requests in flight': CONCURRENCY,
      'accepted events/s (committed to Kafka, acks=all)': Math.round(n / seconds),
      'API CPU s per 1M events': Number(((cpu / n) * 1e6).toFixed(1)),
      'API peak RSS MB': usage.peakRssMb,
      'restart until serving, s (reads the accepted keys back; a re-sent batch is all duplicates)':
        restartSeconds,
      'raw message bytes per event (Avro)': Math.round(messageBytes / BATCH),
      'Kafka producer ceiling, events/s (ProducerPerformance, acks=all, same message size)':
        Math.round(ceiling),
      'share of the ceiling': `${((n / seconds / ceiling) * 100).toFixed(1)}%`,
    };
  } finally {
    child.kill('SIGTERM');
    sampler.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function send(url: string, key: string, body: string): Promise<number> {
  const res = await fetch(`${url}/v1/events`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/cloudevents-batch+json' },
    body,
  });
  const result = (await res.json()) as { accepted?: number };
  if (res.status !== 202)
    throw new Error(`POST /v1/events answered ${res.status}: ${JSON.stringify(result)}`);
  return result.accepted ?? 0;
}

/** Bytes of one raw-topic message of BATCH benchmark events, as the seal writer encodes it. */
function rawMessageBytes(): number {
  const grant = { sources: ['*'], customers: ['*'], eventsPerSecond: 1, eventsBurst: 1 };
  const ctx = { grant, nowMs: Date.now(), maxFutureMs: 0, currency: 'USD', providerName: 'Platform' };
  const rows = deploymentEvents(0, BATCH).map((e, i) => ({
    line: i + 1,
    values: (validateEvent(e, i, ctx, eventRecordIdOf) as ValidEvent).values,
  }));
  return encodeRawBatch({
    provider: 'platform',
    format: 'platform-events',
    scope: 'platform/bench/2026-11',
    revision_id: 's001796102439284',
    billing_period: '2026-11',
    object: 'events://bench/s001796102439284',
    header: [...EVENT_COLUMNS],
    rows,
  }).length;
}
