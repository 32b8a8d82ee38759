import fs from 'node:fs';
import path from 'node:path';
import { AZURITE_ACCOUNT } from '../../providers/azure/config';
import { STACK_VERSIONS } from './versions';
import { isInstalled, markInstalled, run, withLock } from './artifacts';
import { httpStatus } from './processes';
import { installLogOf, type StackComponent } from './component';
import { goInstall } from './go-install';

/*
 * The object stores the collectors read, each a real server speaking its cloud's protocol: MinIO
 * for S3 and fake-gcs-server for GCS (built with go install), Azurite for Blob Storage (npm).
 */

export const s3Component: StackComponent = {
  name: 's3',
  startTimeoutS: 60,
  port: (ctx) => ctx.config.stack.ports.s3,
  endpoint: (ctx) => `http://127.0.0.1:${ctx.config.stack.ports.s3}`,
  async install(ctx) {
    await goInstall(ctx, 'minio', 'github.com/minio/minio', STACK_VERSIONS.minio);
  },
  async prepare(ctx) {
    const binary = await goInstall(ctx, 'minio', 'github.com/minio/minio', STACK_VERSIONS.minio);
    const data = path.join(ctx.paths.dataDir, 's3');
    fs.mkdirSync(data, { recursive: true });
    const p = ctx.config.stack.ports;
    return {
      marker: data,
      command: binary,
      args: [
        'server',
        data,
        '--address',
        `127.0.0.1:${p.s3}`,
        '--console-address',
        `127.0.0.1:${p.s3_console}`,
        '--quiet',
      ],
      env: {
        ...process.env,
        MINIO_ROOT_USER: ctx.config.stack.s3_access_key,
        MINIO_ROOT_PASSWORD: ctx.config.stack.s3_secret_key,
        MINIO_BROWSER: 'off',
        MINIO_UPDATE: 'off',
      },
    };
  },
  async healthy(ctx) {
    return (await httpStatus(`http://127.0.0.1:${ctx.config.stack.ports.s3}/minio/health/live`)) === 200;
  },
};

export const gcsComponent: StackComponent = {
  name: 'gcs',
  startTimeoutS: 30,
  port: (ctx) => ctx.config.stack.ports.gcs,
  endpoint: (ctx) => `http://127.0.0.1:${ctx.config.stack.ports.gcs}`,
  async install(ctx) {
    await goInstall(
      ctx,
      'fake-gcs-server',
      'github.com/fsouza/fake-gcs-server',
      STACK_VERSIONS.fakeGcsServer,
    );
  },
  async prepare(ctx) {
    const binary = await goInstall(
      ctx,
      'fake-gcs-server',
      'github.com/fsouza/fake-gcs-server',
      STACK_VERSIONS.fakeGcsServer,
    );
    const data = path.join(ctx.paths.dataDir, 'gcs');
    fs.mkdirSync(data, { recursive: true });
    const port = ctx.config.stack.ports.gcs;
    return {
      marker: data,
      command: binary,
      args: [
        '-scheme',
        'http',
        '-host',
        '127.0.0.1',
        '-port',
        String(port),
        '-backend',
        'filesystem',
        '-filesystem-root',
        data,
        '-public-host',
        `127.0.0.1:${port}`,
        '-external-url',
        `http://127.0.0.1:${port}`,
        '-log-level',
        'warn',
      ],
    };
  },
  async healthy(ctx) {
    return (await httpStatus(`http://127.0.0.1:${ctx.config.stack.ports.gcs}/storage/v1/b`)) === 200;
  },
};

export const azureBlobComponent: StackComponent = {
  name: 'azure-blob',
  startTimeoutS: 30,
  port: (ctx) => ctx.config.stack.ports.azure_blob,
  endpoint: (ctx) => `http://127.0.0.1:${ctx.config.stack.ports.azure_blob}/${AZURITE_ACCOUNT}`,
  async install(ctx) {
    const dir = path.join(ctx.paths.cacheDir, `azurite-${STACK_VERSIONS.azurite}`);
    if (isInstalled(dir)) return;
    await withLock(`${dir}.lock`, async () => {
      if (isInstalled(dir)) return;
      ctx.say(`azure-blob: installing Azurite ${STACK_VERSIONS.azurite} with npm (once per machine)`);
      fs.mkdirSync(dir, { recursive: true });
      await run(
        'npm',
        [
          'install',
          '--no-save',
          '--no-audit',
          '--no-fund',
          '--prefix',
          dir,
          `azurite@${STACK_VERSIONS.azurite}`,
        ],
        {
          cwd: dir,
          logFile: installLogOf(ctx, 'azure-blob'),
        },
      );
      markInstalled(dir);
    });
  },
  async prepare(ctx) {
    const dir = path.join(ctx.paths.cacheDir, `azurite-${STACK_VERSIONS.azurite}`);
    const data = path.join(ctx.paths.dataDir, 'azure-blob');
    fs.mkdirSync(data, { recursive: true });
    return {
      marker: data,
      command: process.execPath,
      args: [
        path.join(dir, 'node_modules', 'azurite', 'dist', 'src', 'blob', 'main.js'),
        '--blobHost',
        '127.0.0.1',
        '--blobPort',
        String(ctx.config.stack.ports.azure_blob),
        '--location',
        data,
        '--skipApiVersionCheck',
        '--loose',
        '--silent',
      ],
    };
  },
  async healthy(ctx) {
    // Azurite answers an unauthenticated list with 403: it is up and speaking the Blob protocol.
    const status = await httpStatus(
      `http://127.0.0.1:${ctx.config.stack.ports.azure_blob}/${AZURITE_ACCOUNT}?comp=list`,
    );
    return status === 403 || status === 200;
  },
};
