import fs from 'node:fs';
import path from 'node:path';
import { ApiError, ApiErrorCodes } from '../../../api/errors';
import { readAvroRows } from '../../../collectors/formats/avro-rows';
import { readCsvRows } from '../../../collectors/formats/csv-rows';
import { ValueError } from '../../../collectors/formats/value-text';
import { InvoiceError } from '../../../invoices/compute';
import type { NormalizeFailureReason } from '../../../processors/normalize';
import { FieldError } from '../../../processors/normalize/values';
import type { RateFailureReason } from '../../../processors/price';
import { PriceBookError } from '../../../processors/price/errors';
import { runReplay } from '../../../processors/replay';
import type { MeterflowConfig } from '../../../runtime/config';
import {
  classifyError,
  ConfigError,
  DeadLetterReasons,
  ErrorCodes,
  InputError,
  isDeadLetterReason,
  MeterflowError,
  PermanentError,
  TransientError,
  type DeadLetterReason,
} from '../../../runtime/errors';
import { bytesOf, collect } from '../collectors/helpers';

const ROOT = path.resolve(__dirname, '../../..');
const CODES: ReadonlySet<string> = new Set(Object.values(ErrorCodes));

// Compile-time: the stage-level reason unions are subsets of the one vocabulary.
const stageReasons: DeadLetterReason[] = [
  ...([] as NormalizeFailureReason[]),
  ...([] as RateFailureReason[]),
  ...([] as FieldError['reason'][]),
];

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (err: unknown) => err,
  );
}

/** A MeterflowError with this code, not retryable, that classifyError passes through unchanged. */
function permanentCode(err: unknown, code: string): void {
  expect(err).toBeInstanceOf(MeterflowError);
  expect(err).toMatchObject({ code, retryable: false });
  expect(classifyError(err)).toBe(err);
}

describe('error vocabulary', () => {
  it('has unique codes', () => {
    expect(CODES.size).toBe(Object.values(ErrorCodes).length);
  });

  it('makes every dead-letter reason an ErrorCode, under the same key', () => {
    expect(stageReasons).toEqual([]);
    for (const [key, reason] of Object.entries(DeadLetterReasons)) {
      expect(CODES.has(reason)).toBe(true);
      expect(ErrorCodes[key as keyof typeof ErrorCodes]).toBe(reason);
    }
  });

  it('keeps the dead-letter wire values', () => {
    expect(Object.values(DeadLetterReasons).sort()).toEqual([
      'attribution_conflict',
      'malformed',
      'mapping_error',
      'no_exchange_rate',
      'schema_violation',
      'unknown_customer',
      'unknown_schema',
      'unpriced',
    ]);
  });

  it('recognises exactly the dead-letter reasons', () => {
    for (const reason of Object.values(DeadLetterReasons)) expect(isDeadLetterReason(reason)).toBe(true);
    for (const other of ['', 'Malformed', 'unknown', ErrorCodes.NETWORK, ErrorCodes.UNREADABLE_OBJECT])
      expect(isDeadLetterReason(other)).toBe(false);
  });

  it('documents every reason in the dead-letter Avro schema', () => {
    const schema = JSON.parse(fs.readFileSync(path.join(ROOT, 'schemas/dead-letter.avsc'), 'utf8')) as {
      fields: Array<{ name: string; type: unknown; doc?: string }>;
    };
    const field = schema.fields.find((f) => f.name === 'reason')!;
    expect(field.type).toBe('string');
    const listed = field.doc!.slice(field.doc!.indexOf(':') + 1).split('|');
    expect(listed.map((s) => s.trim()).sort()).toEqual(Object.values(DeadLetterReasons).sort());
  });

  it('replay refuses a reason outside the vocabulary before it touches Kafka', async () => {
    const err = await rejection(runReplay({} as MeterflowConfig, 'unpriced_typo'));
    permanentCode(err, ErrorCodes.CONFIG_INVALID);
    expect((err as Error).message).toContain('unknown dead-letter reason "unpriced_typo"');
  });

  it('makes every API error code an ErrorCode, under the same key', () => {
    for (const [key, code] of Object.entries(ApiErrorCodes)) {
      expect(CODES.has(code)).toBe(true);
      expect(ErrorCodes[key as keyof typeof ErrorCodes]).toBe(code);
    }
  });
});

describe('error classes', () => {
  const permanent = permanentCode;

  it('base classes carry their retryable flag', () => {
    expect(new TransientError(ErrorCodes.NETWORK, 'x').retryable).toBe(true);
    expect(new PermanentError(ErrorCodes.NETWORK, 'x').retryable).toBe(false);
    expect(new MeterflowError(ErrorCodes.UNKNOWN, 'x').retryable).toBe(false);
    permanent(new InputError(ErrorCodes.MALFORMED_INPUT, 'x', { field: 'f' }), ErrorCodes.MALFORMED_INPUT);
    permanent(new ConfigError('cfg.yaml', ['bad']), ErrorCodes.CONFIG_INVALID);
  });

  it('FieldError: its reason is its code, never retryable', () => {
    const malformed = new FieldError('cost', 'cost: not a number');
    permanent(malformed, DeadLetterReasons.MALFORMED_INPUT);
    expect(malformed).toBeInstanceOf(PermanentError);
    expect(malformed).toMatchObject({ name: 'FieldError', field: 'cost', reason: 'malformed' });
    expect(malformed.message).toBe('cost: not a number');
    const violation = new FieldError('ChargeCategory', 'no', DeadLetterReasons.SCHEMA_VIOLATION);
    permanent(violation, DeadLetterReasons.SCHEMA_VIOLATION);
    expect(violation.reason).toBe('schema_violation');
  });

  it('ValueError: an InputError(MALFORMED_INPUT) keeping its field and message', () => {
    const withField = new ValueError('timestamp 1 is out of range', 'usage_start_time');
    permanent(withField, ErrorCodes.MALFORMED_INPUT);
    expect(withField).toBeInstanceOf(InputError);
    expect(withField.field).toBe('usage_start_time');
    expect(withField.message).toBe('field usage_start_time: timestamp 1 is out of range');
    const without = new ValueError('bad');
    expect(without.field).toBeUndefined();
    expect(without.message).toBe('bad');
  });

  it('ApiError: keeps status and API code; retryable only for 429 and 5xx', () => {
    const e = new ApiError(404, ApiErrorCodes.NOT_FOUND, 'invoice not found');
    permanent(e, 'not_found');
    expect(e).toMatchObject({ name: 'ApiError', status: 404, message: 'invoice not found' });
    expect(new ApiError(400, ApiErrorCodes.INVALID_PARAMETER, 'x').retryable).toBe(false);
    expect(new ApiError(429, ApiErrorCodes.UNAVAILABLE, 'x').retryable).toBe(true);
    expect(new ApiError(503, ApiErrorCodes.UNAVAILABLE, 'x').retryable).toBe(true);
  });

  it('InvoiceError and PriceBookError are permanent', () => {
    permanent(new InvoiceError('INV-1', ['no lines']), ErrorCodes.MALFORMED_INPUT);
    permanent(new PriceBookError('pricebook.yaml', ['bad rule']), ErrorCodes.CONFIG_INVALID);
  });

  it('the Avro reader fails with UNREADABLE_OBJECT caused by a MeterflowError', async () => {
    const err = await rejection(collect(readAvroRows(bytesOf('definitely not avro'), { object: 'x.avro' })));
    permanent(err, ErrorCodes.UNREADABLE_OBJECT);
    permanent((err as Error).cause, ErrorCodes.UNREADABLE_OBJECT);
  });

  it('the CSV reader fails with an InputError caused by a MeterflowError', async () => {
    const err = await rejection(collect(readCsvRows(bytesOf('a,b\n1,"open\n'), { object: 'x.csv' })));
    permanent(err, ErrorCodes.MALFORMED_INPUT);
    const cause = (err as Error).cause;
    permanent(cause, ErrorCodes.MALFORMED_INPUT);
    expect(cause).toMatchObject({ line: 2 });
  });

  it('every Error subclass in the source extends MeterflowError', () => {
    const parentOf = new Map<string, { parent: string; file: string }>();
    const walk = (dir: string): void => {
      for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
        const full = path.join(dir, entry.name);
        if (entry.isDirectory()) {
          if (!['node_modules', 'dist', 'out', 'coverage'].includes(entry.name)) walk(full);
        } else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) {
          const text = fs.readFileSync(full, 'utf8');
          for (const m of text.matchAll(/\bclass\s+(\w+)(?:<[^>]*>)?\s+extends\s+(\w+)/g))
            parentOf.set(m[1], { parent: m[2], file: path.relative(ROOT, full) });
        }
      }
    };
    for (const dir of [
      'api',
      'bench',
      'cli',
      'collectors',
      'deploy',
      'invoices',
      'processors',
      'providers',
      'runtime',
      'schemas',
      'sinks',
    ])
      if (fs.existsSync(path.join(ROOT, dir))) walk(path.join(ROOT, dir));

    const builtinErrors = /^(Error|TypeError|RangeError|SyntaxError|ReferenceError|AggregateError)$/;
    const offenders: string[] = [];
    const errorClasses: string[] = [];
    for (const [name, { file }] of parentOf) {
      // Up the chain of classes declared in the source; `root` is the first one declared elsewhere.
      const chain = [name];
      let root = parentOf.get(name)!.parent;
      while (parentOf.has(root) && !chain.includes(root)) {
        chain.push(root);
        root = parentOf.get(root)!.parent;
      }
      if (!builtinErrors.test(root)) continue; // not an Error class
      errorClasses.push(name);
      if (name !== 'MeterflowError' && !chain.includes('MeterflowError'))
        offenders.push(`${file}: ${chain.join(' -> ')} -> ${root}`);
    }
    expect(offenders).toEqual([]);
    // The scan does see the classes converted to MeterflowError (a guard against a broken regex).
    expect(errorClasses).toEqual(
      expect.arrayContaining([
        'ApiError',
        'FieldError',
        'ValueError',
        'Unreadable',
        'FlattenCollision',
        'CsvSyntaxError',
        'Stopping',
      ]),
    );
  });
});
