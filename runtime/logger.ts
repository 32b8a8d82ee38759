import pino, { type Logger } from 'pino';
import { redactError, redactValue } from './redact';

export type { Logger } from 'pino';

export interface LoggerOptions {
  level: string;
  /** Component name, added to every line ("collector.aws", "processor.price", ...). */
  component?: string;
  /** Destination; defaults to stderr so stdout stays free for command output (NDJSON, summaries). */
  destination?: pino.DestinationStream;
}

/**
 * Structured JSON logging. Every field, message and error passes through the redactor, so a
 * secret in a config value, a URL or a foreign error message never reaches a log line.
 * Per-record events are logged at debug level only; info is for lifecycle and summaries.
 */
export function createLogger(options: LoggerOptions): Logger {
  const destination = options.destination ?? pino.destination({ fd: 2, sync: true });
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
