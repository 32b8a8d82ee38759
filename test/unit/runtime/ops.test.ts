import { Registry } from 'prom-client';
import { startOpsServer } from '../../../runtime/http-server';
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
    const shutdown = new Shutdown(createLogger({ level: 'silent' }), 1000);
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

  it('bounds a hanging step by its timeout', async () => {
    const shutdown = new Shutdown(createLogger({ level: 'silent' }), 50);
    let after = false;
    shutdown.register('after', () => void (after = true));
    shutdown.register('hangs', () => new Promise<void>(() => undefined));
    await shutdown.run();
    expect(after).toBe(true);
  });
});
