import { Argument, CommanderError, InvalidArgumentError, Option } from 'commander';
import { isPeriod } from '../invoices/period';
import { DeadLetterReasons } from '../runtime/errors';
import { REPLAYABLE_STAGES } from '../processors/replay-stages';
import { DIFF_FORMATS } from '../processors/preview/format';

/**
 * Option and argument definitions that commander checks while it parses the command line, so a bad
 * value fails as a usage error (exit 2, the option named, the help shown) before the command loads
 * its configuration or opens a connection. Without them `invoice generate --period 2026-13` reached
 * Elasticsearch first and answered with a connection error.
 *
 * Kept free of heavy imports: the CLI builds these for every invocation, `--help` included.
 */

function periodValue(value: string): string {
  if (!isPeriod(value))
    throw new InvalidArgumentError(`"${value}" is not a billing period: expected YYYY-MM, month 01 to 12`);
  return value;
}

function portValue(value: string): number {
  // 0 is allowed: the servers read it as "pick a free port" (ops.port and api.port say so).
  if (!/^\d+$/.test(value) || Number(value) > 65535)
    throw new InvalidArgumentError(`"${value}" is not a port: expected an integer from 0 to 65535`);
  return Number(value);
}

function positiveIntegerValue(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1)
    throw new InvalidArgumentError(`"${value}" is not a positive integer`);
  return Number(value);
}

export const periodOption = (description = 'billing period') =>
  new Option('--period <YYYY-MM>', description).argParser(periodValue).makeOptionMandatory();

export const portOption = (flags: string, description: string) =>
  new Option(flags, description).argParser(portValue);

export const positiveIntegerOption = (flags: string, description: string, defaultValue: number) =>
  new Option(flags, description).argParser(positiveIntegerValue).default(defaultValue);

/** The output formats of `meterflow rate` and `meterflow export`. */
export const OUTPUT_FORMATS = ['ndjson', 'csv', 'parquet'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];
export const formatOption = (description: string) =>
  new Option('--format <format>', description).choices(OUTPUT_FORMATS).default('ndjson');

/** `meterflow process <stage>`: the stages of processors/command.ts and `all`. */
export const PROCESS_STAGES = ['normalize', 'dedupe', 'price', 'all'] as const;
export const processStageArgument = () =>
  new Argument('<stage>', 'normalize, dedupe, price, or all').choices(PROCESS_STAGES);

export const replayReasonOption = () =>
  new Option('--reason <reason>', 'the dead-letter reason to re-drive')
    .choices(Object.values(DeadLetterReasons))
    .makeOptionMandatory();
export const replayStageOption = () =>
  new Option('--stage <stage>', 'only letters of this stage').choices(REPLAYABLE_STAGES);

export const providerArgument = (names: readonly string[]) =>
  new Argument('<provider>', names.join(', ')).choices(names);
export const providerOption = (names: readonly string[]) =>
  new Option('--provider <provider>', 'the provider whose exports are read')
    .choices(names)
    .makeOptionMandatory();

/** `meterflow invoice list | export --status`. */
export const invoiceStatusOption = () =>
  new Option('--status <status>', 'only draft, finalized or void documents').choices([
    'draft',
    'finalized',
    'void',
  ]);
/** `meterflow invoice export --format`. */
export const invoiceFormatOption = () =>
  new Option('--format <format>', 'json, csv, pdf or html')
    .choices(['json', 'csv', 'pdf', 'html'])
    .makeOptionMandatory();

/** `meterflow pricebook diff --format`: a table for people, or the JSON the API answers. */
export const diffFormatOption = () =>
  new Option('--format <format>', "table or json (the API's answer)").choices(DIFF_FORMATS).default('table');

/**
 * A usage error found after parsing (a --book file that is not a valid price book): printed like
 * commander's own, and exit 2 through main's CommanderError handling.
 */
export function usageError(message: string): CommanderError {
  process.stderr.write(`error: ${message}\n`);
  return new CommanderError(2, 'meterflow.usage', message);
}
