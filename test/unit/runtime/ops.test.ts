import { Registry } from 'prom-client';
import { ConsumerHealth } from '../../../runtime/consumer-health';
import { NotReady, runReadiness, startOpsServer } from '../../../runtime/http-server';
import { createStageMetrics } from '../../../runtime/metrics';
import { Shutdown } from '../../../runtime/shutdown';
import { createLogger } from '../../../runtime/logger';

describe('stage metrics and the ops endpoint', () => {
  it('serves the same metric names for every stage, /healthz and /readyz', async () => {
    const registry = new Registry();
    const a = createStageMetrics(registry, 'collector.aws');
    const b = createStageMetrics(registry, 'processor.price');
    a.received(10);
    a.sent(9);
    a.failed('malformed');
    b.dropped('duplicate', true, 2);
    let ready = false;
    const server = await startOpsServer({
      host: '127.0.0.1',
      port: 0,
      registry,
      readiness: { kafka: async () => ready },
    });
    try {
      const metrics = await (await fetch(`${server.url}/metrics`)).text();
      expect(metrics).toContain('meterflow_records_received_total{component="collector.aws"} 10');
      expect(metrics).toContain('meterflow_records_sent_total{component="collector.aws"} 9');
      expect(metrics).toContain(
        'meterflow_records_failed_total{component="collector.aws",error_type="malformed"} 1',
      );
      expect(metrics).toContain(
        'meterflow_records_dropped_total{component="processor.price",reason="duplicate",intentional="true"} 2',
      );
      expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
      const notReady = await fetch(`${server.url}/readyz`);
      expect(notReady.status).toBe(503);
      expect(await notReady.json()).toEqual({ ready: false, checks: { kafka: 'not ready' } });
      ready = true;
      expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
      expect((await fetch(`${server.url}/nope`)).status).toBe(404);
    } finally {
      await server.close();
    }
  });
});

describe('Shutdown', () => {
  it('runs close steps in reverse order, aborts the signal, and survives a failing step', async () => {
    const order: string[] = [];
    const shutdown = new Shutdown(createLogger({ level: 'silent' }), { timeoutMs: 1000 });
    shutdown.register('clients', () => void order.push('clients'));
    shutdown.register('producer', () => {
      order.push('producer');
      throw new Error('boom');
    });
    shutdown.register('consumer', async () => void order.push('consumer'));
    await shutdown.run();
    expect(order).toEqual(['consumer', 'producer', 'clients']);
    expect(shutdown.signal.aborted).toBe(true);
  });

  it('stops waiting at its deadline and names the steps that did not finish', async () => {
    const lines: string[] = [];
    const shutdown = new Shutdown(createLogger({ level: 'silent' }), {
      timeoutMs: 50,
      report: (l) => lines.push(l),
    });
    let after = false;
    shutdown.register('clients', () => void (after = true));
    shutdown.register('sink', () => new Promise<void>(() => undefined));
    shutdown.register('api', () => undefined);
    expect(await shutdown.run()).toEqual(['sink', 'clients']);
    expect(after).toBe(false);
    expect(lines[0]).toBe('stopping api');
    expect(lines[1]).toBe('stopping sink');
    expect(lines[2]).toMatch(
      /^shutdown deadline \(0.05 s\) reached while waiting for sink, clients; exiting anyway/,
    );
  });

  it('reports a clean stop with nothing unfinished', async () => {
    const lines: string[] = [];
    const shutdown = new Shutdown(createLogger({ level: 'silent' }), { report: (l) => lines.push(l) });
    shutdown.register('consumer', async () => undefined);
    expect(await shutdown.run()).toEqual([]);
    expect(lines).toEqual(['stopping consumer', 'stopped']);
  });
});

describe('readiness checks', () => {
  it('show a NotReady message, and only the error code of any other failure', async () => {
    const result = await runReadiness({
      kafka: () => {
        throw new NotReady('processor.price: not a member of its consumer group yet');
      },
      elasticsearch: async () => {
        throw Object.assign(new Error('connect ECONNREFUSED http://elastic:s3cret@10.0.0.7:9200'), {
          code: 'ECONNREFUSED',
        });
      },
      ok: () => undefined,
    });
    expect(result).toEqual({
      ready: false,
      checks: {
        kafka: 'processor.price: not a member of its consumer group yet',
        elasticsearch: 'failed (network)',
        ok: 'ok',
      },
    });
  });
});

describe('ConsumerHealth', () => {
  const events = { GROUP_JOIN: 'join', REBALANCING: 'rebalancing', STOP: 'stop', CRASH: 'crash' };
  function fakeConsumer() {
    const handlers = new Map<string, (e: unknown) => void>();
    return {
      consumer: { events, on: (event: string, fn: (e: unknown) => void) => void handlers.set(event, fn) },
      emit: (event: string, payload: unknown = {}) => handlers.get(event)!({ payload }),
    };
  }
  const state = (h: ConsumerHealth) => {
    try {
      h.check();
      return 'ready';
    } catch (err) {
      return (err as Error).message;
    }
  };

  it('is ready only while the consumer is a member of its group', () => {
    const { consumer, emit } = fakeConsumer();
    const h = new ConsumerHealth(consumer as never, 'sink');
    expect(state(h)).toBe('sink: not a member of its consumer group yet');
    emit('join');
    expect(state(h)).toBe('ready');
    emit('rebalancing');
    expect(state(h)).toBe('sink: not a member of its consumer group yet');
    emit('join');
    emit('crash', { error: new Error('broker gone'), restart: true });
    expect(state(h)).toBe('sink: not a member of its consumer group yet');
    emit('join');
    emit('stop');
    expect(state(h)).toBe('sink: stopped');
  });

  it('reports a crash kafkajs does not restart from, and tells onFatal once', () => {
    const { consumer, emit } = fakeConsumer();
    const fatal: Error[] = [];
    const h = new ConsumerHealth(consumer as never, 'processor.dedupe', (e) => fatal.push(e));
    emit('join');
    const error = Object.assign(new Error('Not authorized to access topics'), {
      type: 'TOPIC_AUTHORIZATION_FAILED',
    });
    emit('crash', { error, restart: false });
    expect(fatal).toEqual([error]);
    expect(state(h)).toMatch(/^processor\.dedupe: stopped on a non-retriable error \(/);
  });
});
