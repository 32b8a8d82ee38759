import type { MeterflowConfig } from '../../runtime/config';

/**
 * The toxiproxy of the local stack (deploy/stack: `toxiproxy`), through its HTTP API: a real TCP
 * proxy between meterflow and one server, which a test then breaks on purpose. Every proxy a
 * test makes listens on a free port of its own and is deleted by `remove`.
 */
export interface Proxy {
  /** host:port meterflow connects to instead of the server. */
  readonly listen: string;
  /** Stop accepting connections and drop the open ones (the server looks down). */
  disable(): Promise<void>;
  enable(): Promise<void>;
  /** Adds a toxic (`reset_peer`, `limit_data`, `timeout`, `latency`, ...); returns its name. */
  toxic(
    type: string,
    attributes: Record<string, number>,
    stream?: 'upstream' | 'downstream',
  ): Promise<string>;
  removeToxic(name: string): Promise<void>;
  remove(): Promise<void>;
}

export async function createProxy(config: MeterflowConfig, name: string, upstream: string): Promise<Proxy> {
  const api = `http://127.0.0.1:${config.stack.ports.toxiproxy}`;
  const call = async (method: string, path: string, body?: unknown): Promise<unknown> => {
    const res = await fetch(`${api}${path}`, {
      method,
      headers: { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`toxiproxy ${method} ${path}: ${res.status} ${text}`);
    return text ? JSON.parse(text) : undefined;
  };
  const created = (await call('POST', '/proxies', {
    name,
    listen: '127.0.0.1:0',
    upstream,
    enabled: true,
  })) as {
    listen: string;
  };
  let toxics = 0;
  return {
    listen: created.listen,
    disable: async () => void (await call('POST', `/proxies/${name}`, { enabled: false })),
    enable: async () => void (await call('POST', `/proxies/${name}`, { enabled: true })),
    toxic: async (type, attributes, stream = 'downstream') => {
      const toxicName = `${type}-${++toxics}`;
      await call('POST', `/proxies/${name}/toxics`, {
        name: toxicName,
        type,
        stream,
        toxicity: 1,
        attributes,
      });
      return toxicName;
    },
    removeToxic: async (toxicName) => void (await call('DELETE', `/proxies/${name}/toxics/${toxicName}`)),
    remove: async () => void (await call('DELETE', `/proxies/${name}`)),
  };
}
