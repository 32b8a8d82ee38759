import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../../runtime/config';
import { assertKafkaReachable } from '../../../runtime/kafka-reachable';

const root = path.resolve(__dirname, '../../..');
const tsx = require.resolve('tsx', { paths: [root] });
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meterflow-cli-kafka-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function configAt(brokers: string): string {
  const file = path.join(dir, `${brokers.replace(/\W/g, '_')}.yaml`);
  fs.writeFileSync(
    file,
    `local_stack: false\nkafka:\n  brokers: ["${brokers}"]\nelasticsearch:\n  node: http://127.0.0.1:1\n`,
  );
  return file;
}

describe('one-off Kafka commands against brokers that are not there', () => {
  it('meterflow replay exits non-zero naming the brokers and the cause', async () => {
    // Port 1 on loopback: nothing listens there, so every connection is refused.
    const configFile = configAt('127.0.0.1:1');
    const child = spawn(
      process.execPath,
      [
        '--import',
        tsx,
        path.join(root, 'cli/main.ts'),
        '--config',
        configFile,
        'replay',
        '--reason',
        'unpriced',
      ],
      { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(stderr).toContain('Kafka is not reachable at 127.0.0.1:1 (kafka.brokers)');
    expect(stderr).toContain('ECONNREFUSED');
    expect(code).toBe(1);
  }, 40_000);

  it('gives up at its deadline on a broker that accepts connections and never answers', async () => {
    const silent = net.createServer(() => undefined);
    const sockets = new Set<net.Socket>();
    silent.on('connection', (s) => sockets.add(s));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as net.AddressInfo;
    try {
      const { config } = loadConfig({ path: configAt(`127.0.0.1:${port}`) });
      await expect(assertKafkaReachable(config, 'test', 1_500)).rejects.toThrow(
        `Kafka is not reachable at 127.0.0.1:${port} (kafka.brokers): no answer within 2 s`,
      );
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  }, 30_000);
});
