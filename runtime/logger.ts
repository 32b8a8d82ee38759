import { createRequire } from 'node:module';
import pino, { type Logger } from 'pino';
import { redactError, redactValue } from './redact';

export type { Logger } from 'pino';

const load = createRequire(__filename);

export interface LoggerOptions {
  level: string;
  /** Component name, added to every line ("collector.aws", "processor.price", ...). */
  component?: string;
  /** Destination; defaults to stderr so stdout stays free for command output (NDJSON, summaries). */
  destination?: pino.DestinationStream;
}

/**
 * Logs go to stderr: JSON lines, for a collector or a file, unless stderr is a terminal, where a
 * person reads them, and pino-pretty turns each into one readable line. The lines reach pino-pretty
 * already redacted (the formatters below run first), and it is loaded only then, so a service pays
 * nothing for it.
 */
export function logDestination(
  fd = 2,
  tty = Boolean(fd === 2 ? process.stderr.isTTY : false),
): pino.DestinationStream {
  if (!tty) return pino.destination({ fd, sync: true });
  const pretty = load('pino-pretty') as typeof import('pino-pretty');
  return pretty({
    destination: fd,
    sync: true,
    colorize: true,
    singleLine: true,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'pid,hostname',
    messageKey: 'msg',
  });
}

/**
 * Structured JSON logging. Every field, message and error passes through the redactor, so a
 * secret in a config value, a URL or a foreign error message never reaches a log line.
 * Per-record events are logged at debug level only; info is for lifecycle and summaries.
 */
export function createLogger(options: LoggerOptions): Logger {
  const destination = options.destination ?? logDestination();
  return pino(
    {
      level: options.level,
      base: options.component ? { component: options.component } : {},
      timestamp: pino.stdTimeFunctions.isoTime,
      serializers: { err: (e: unknown) => (e instanceof Error ? redactError(e) : redactValue(e)) },
      formatters: {
        level: (label) => ({ level: label }),
        log: (obj) => redactValue(obj) as Record<string, unknown>,
      },
      hooks: {
        logMethod(args, method) {
          const scrubbed = args.map((a) => (typeof a === 'string' ? (redactValue(a) as string) : a));
          return method.apply(this, scrubbed as Parameters<typeof method>);
        },
      },
    },
    destination,
  );
}
