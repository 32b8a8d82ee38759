import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { loadConfig } from '../../runtime/config';
import { selectComponents, stackContext, stackStatus, stackUp } from '../../deploy/stack/stack';
import { readPidFile, stopProcessGroup } from '../../deploy/stack/processes';

const root = path.resolve(__dirname, '../..');

describe('meterflow stack', () => {
  const ctx = stackContext(loadConfig().config);

  it('status reports every component healthy with its endpoint', async () => {
    const statuses = await stackStatus(ctx);
    expect(statuses.map((s) => s.name)).toEqual([
      'kafka',
      'elasticsearch',
      's3',
      'gcs',
      'azure-blob',
      'toxiproxy',
    ]);
    for (const s of statuses) expect(s).toMatchObject({ healthy: true });
    expect(statuses.find((s) => s.name === 'elasticsearch')!.endpoint).toBe(
      `http://127.0.0.1:${ctx.config.stack.ports.elasticsearch}`,
    );
  });

  it('a stopped server makes status fail, and stack up brings it back', async () => {
    const [gcs] = selectComponents(['gcs']);
    const record = readPidFile(path.join(ctx.paths.runDir, 'gcs.pid'));
    // The stack may have been started by someone else (an external server): then we cannot stop it.
    if (!record)
      throw new Error(
        'the gcs server was not started by this stack; run `meterflow stack down && meterflow stack up`',
      );
    await stopProcessGroup(record);
    const down = await stackStatus(ctx, [gcs]);
    expect(down[0]).toMatchObject({ name: 'gcs', healthy: false, owner: 'stopped' });

    // The CLI exits non-zero while a component is unhealthy.
    let exitCode = 0;
    try {
      execFileSync(process.execPath, ['--import', 'tsx', path.join(root, 'cli/main.ts'), 'stack', 'status'], {
        cwd: root,
        stdio: 'pipe',
      });
    } catch (err) {
      exitCode = (err as { status: number }).status;
    }
    expect(exitCode).toBe(1);

    const up = await stackUp(ctx, [gcs]);
    expect(up[0]).toMatchObject({ name: 'gcs', healthy: true, owner: 'ours' });
  });
});
