import fs from 'node:fs';
import path from 'node:path';
import { STACK_VERSIONS } from './versions';
import { httpStatus } from './processes';
import { type StackComponent } from './component';
import { goInstall } from './go-install';

/**
 * A real TCP proxy that the fault-injection tests (test/faults) put between meterflow and a
 * server, then break on purpose: refuse connections, reset them mid-stream, cut a transfer short.
 * Proxies are created per test through its HTTP API; nothing goes through it otherwise.
 */
export const toxiproxyComponent: StackComponent = {
  name: 'toxiproxy',
  startTimeoutS: 30,
  port: (ctx) => ctx.config.stack.ports.toxiproxy,
  endpoint: (ctx) => `http://127.0.0.1:${ctx.config.stack.ports.toxiproxy}`,
  async install(ctx) {
    await goInstall(ctx, 'toxiproxy', TOXIPROXY_MODULE, STACK_VERSIONS.toxiproxy);
  },
  async prepare(ctx) {
    const binary = await goInstall(ctx, 'toxiproxy', TOXIPROXY_MODULE, STACK_VERSIONS.toxiproxy);
    const data = path.join(ctx.paths.dataDir, 'toxiproxy');
    fs.mkdirSync(data, { recursive: true });
    return {
      marker: data,
      command: binary,
      args: ['-host', '127.0.0.1', '-port', String(ctx.config.stack.ports.toxiproxy)],
    };
  },
  async healthy(ctx) {
    return (await httpStatus(`http://127.0.0.1:${ctx.config.stack.ports.toxiproxy}/version`)) === 200;
  },
};
const TOXIPROXY_MODULE = 'github.com/Shopify/toxiproxy/v2/cmd/server';
