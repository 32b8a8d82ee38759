import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createS3 } from '../../providers/aws/store';
import { ensureBucket } from './collectors/cur-fixture';
import { eventually, exitOf, meterflowProcess, testConfig, uniqueName } from './helpers';

/**
 * /readyz of the long-running commands reflects their real state, and SIGTERM stops them saying
 * what they stop. The processes are the real CLI against the local stack.
 */

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

interface Running {
  child: ChildProcess;
  output: () => string;
  exit: Promise<number | null>;
}

function cli(args: string[], configFile: string): Running {
  const child = meterflowProcess(args, configFile, { logLevel: 'info' });
  let text = '';
  child.stdout!.on('data', (c) => (text += String(c)));
  child.stderr!.on('data', (c) => (text += String(c)));
  return { child, output: () => text, exit: exitOf(child) };
}

async function readyz(
  port: number,
): Promise<{ status: number; body: { ready: boolean; checks: Record<string, string> } }> {
  const res = await fetch(`http://127.0.0.1:${port}/readyz`);
  return {
    status: res.status,
    body: (await res.json()) as { ready: boolean; checks: Record<string, string> },
  };
}

describe('readiness and shutdown of the long-running commands', () => {
  const prefix = uniqueName('it-ready');
  const started = Date.now() / 1000;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meterflow-ready-'));
  const configFile = path.join(dir, 'meterflow.yaml');
  fs.writeFileSync(
    configFile,
    [
      'kafka:',
      `  topic_prefix: ${prefix}`,
      'elasticsearch:',
      `  index_prefix: ${prefix}`,
      'processor:',
      '  session_timeout_ms: 6000',
      'collector:',
      '  poll_interval_ms: 1000',
      'aws:',
      '  exports:',
      `    - { name: missing-bucket, bucket: ${uniqueName('nosuch')}, prefix: '', type: cur-legacy }`,
      '',
    ].join('\n'),
  );
  const children: Running[] = [];
  afterAll(() => {
    for (const r of children) if (r.child.exitCode === null) r.child.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('a processor is ready once its consumer has joined its group, and stops on SIGTERM naming each step', async () => {
    const port = await freePort();
    const run = cli(['process', 'normalize', '--instance', 'ready', '--ops-port', String(port)], configFile);
    children.push(run);
    const ready = await eventually(async () => {
      const r = await readyz(port).catch(() => undefined);
      return r?.status === 200 ? r : undefined;
    }, 90_000);
    expect(ready.body).toEqual({ ready: true, checks: { 'processor.normalize': 'ok' } });

    run.child.kill('SIGTERM');
    expect(await run.exit).toBe(0);
    const out = run.output();
    expect(out).toContain('SIGTERM: shutting down (at most 10 s)');
    expect(out).toContain('stopping processor.normalize');
    expect(out).toContain('"msg":"stopped"');
  });

  it('a collector that cannot read its export is not ready, and says which export without the error text', async () => {
    const port = await freePort();
    const run = cli(['collect', 'aws', '--ops-port', String(port)], configFile);
    children.push(run);
    // 503 throughout: not started, then discovering, then the failed pass.
    const seen: number[] = [];
    const notReady = await eventually(async () => {
      const r = await readyz(port).catch(() => undefined);
      if (r) seen.push(r.status);
      return r?.body.checks['collector.aws']?.includes('last pass') ? r : undefined;
    }, 60_000);
    expect(new Set(seen)).toEqual(new Set([503]));
    expect(notReady.status).toBe(503);
    expect(notReady.body.ready).toBe(false);
    expect(notReady.body.checks['collector.aws']).toBe(
      'collector.aws: last pass could not read missing-bucket',
    );
    run.child.kill('SIGTERM');
    expect(await run.exit).toBe(0);
  });

  it('a collector whose every export was discovered is ready', async () => {
    const bucket = uniqueName('ready');
    await ensureBucket(createS3(testConfig().aws).client, bucket);
    const file = path.join(dir, 'readable.yaml');
    fs.writeFileSync(
      file,
      fs
        .readFileSync(configFile, 'utf8')
        .replace(/name: missing-bucket, bucket: [^,]+,/, `name: readable, bucket: ${bucket},`),
    );
    const port = await freePort();
    const run = cli(['collect', 'aws', '--ops-port', String(port)], file);
    children.push(run);
    const ready = await eventually(async () => {
      const r = await readyz(port).catch(() => undefined);
      return r?.status === 200 ? r : undefined;
    }, 60_000);
    expect(ready.body).toEqual({ ready: true, checks: { 'collector.aws': 'ok' } });
    run.child.kill('SIGTERM');
    expect(await run.exit).toBe(0);
  });

  it('the sink is ready once its consumer has joined its group and Elasticsearch is healthy', async () => {
    const port = await freePort();
    const run = cli(['sink', 'elasticsearch', '--ops-port', String(port)], configFile);
    children.push(run);
    const ready = await eventually(async () => {
      const r = await readyz(port).catch(() => undefined);
      return r?.status === 200 ? r : undefined;
    }, 90_000);
    expect(ready.body).toEqual({ ready: true, checks: { elasticsearch: 'ok', 'kafka consumer': 'ok' } });
    run.child.kill('SIGTERM');
    expect(await run.exit).toBe(0);
  });

  it('the invoice schedule is ready once it reads the price book and reaches Elasticsearch, and counts its ticks', async () => {
    const port = await freePort();
    const run = cli(['invoice', 'schedule', '--ops-port', String(port)], configFile);
    children.push(run);
    const ready = await eventually(async () => {
      const r = await readyz(port).catch(() => undefined);
      return r?.status === 200 ? r : undefined;
    }, 90_000);
    expect(ready.body).toEqual({ ready: true, checks: { elasticsearch: 'ok', 'price book': 'ok' } });
    // The first tick runs at start (there is nothing to invoice under this prefix, so it passes).
    const metrics = await eventually(async () => {
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      return /meterflow_invoice_schedule_ticks_total\{outcome="ok"\} [1-9]/.test(text) ? text : undefined;
    }, 60_000);
    const stamp = Number(
      /^meterflow_invoice_schedule_last_success_timestamp_seconds (\S+)$/m.exec(metrics)?.[1],
    );
    expect(stamp).toBeGreaterThanOrEqual(Math.floor(started));
    expect(metrics).not.toMatch(/meterflow_invoice_schedule_ticks_total\{outcome="failed"\} [1-9]/);
    run.child.kill('SIGTERM');
    expect(await run.exit).toBe(0);
  });
});
