import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createLogger, logDestination } from '../../../runtime/logger';

function logTo(tty: boolean): string {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'meterflow-log-')), 'log');
  const fd = fs.openSync(file, 'w');
  try {
    const logger = createLogger({ level: 'info', component: 'demo', destination: logDestination(fd, tty) });
    logger.warn({ broker: '127.0.0.1:1', password: 'hunter2' }, 'Connection error');
    logger.flush();
  } finally {
    fs.closeSync(fd);
  }
  return fs.readFileSync(file, 'utf8');
}

describe('log format', () => {
  it('writes one JSON object a line when the destination is not a terminal', () => {
    const lines = logTo(false).trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0])).toMatchObject({
      level: 'warn',
      component: 'demo',
      msg: 'Connection error',
      password: '[REDACTED]',
    });
  });

  it('writes a readable line, still redacted, on a terminal', () => {
    const text = logTo(true).replace(/\x1b\[[0-9;]*m/g, '');
    expect(text.trim().split('\n')).toHaveLength(1);
    expect(text).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] WARN: Connection error /);
    expect(text).toContain('"component":"demo"');
    expect(text).not.toContain('hunter2');
    expect(() => JSON.parse(text)).toThrow();
  });
});
