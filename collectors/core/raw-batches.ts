import type { Message } from 'kafkajs';
import type { Decimal } from '../../schemas/decimal';
import { InputError } from '../../runtime/errors';
import { recordIdOf } from '../../schemas/record-id';
import { SCHEMA_HEADER, type RawRow } from '../../schemas';
import { encodeRawBatch, type RowBatch } from '../../schemas/raw-batch-codec';
import type { RowContext } from '../../processors/normalize/types';
import type { ControlColumns } from '../formats/columns';
import { clipText, columnsOf, type Header, type MalformedLine, type ParsedLine } from '../formats/rows';

/**
 * The source half of the pipeline, shared by the collector (which sends it to Kafka) and by
 * `meterflow rate` (which hands it straight to the processors), so both admit, count and batch the
 * lines of an export identically.
 */

/** A row's constants: the object it was read from and the revision it belongs to (normalize's RowContext). */
export type BatchConstants = RowContext;

/**
 * The largest row (sum of its values' characters) sent to the raw topic. Kafka refuses messages
 * over its limit (1 MB by default), and UTF-8 takes up to 3 bytes a character: a wider row is
 * dead-lettered on its own instead of failing the batch that would carry it, and its revision.
 */
export const MAX_ROW_CHARS = 256 * 1024;

/** An admitted row's contribution to the revision's control totals. */
export interface AdmittedRow {
  kind: 'row';
  cost: Decimal | undefined;
  currency: string;
}

/**
 * The collector's admission of one parsed line: a row whose billed cost does not parse is
 * malformed like any unparseable line (dead-lettered by the source, naming the billed-cost column;
 * the rest of the object goes on), so a garbled amount is never counted as null in the control
 * totals, and `meterflow rate` reports it exactly where the collector does.
 */
export class RowAdmission {
  private header: Header | undefined;
  private control: ControlColumns | undefined;

  constructor(
    private readonly controlColumns: (header: Header) => ControlColumns,
    private readonly billedCostColumn: string,
  ) {}

  admit(line: ParsedLine): AdmittedRow | MalformedLine {
    if (line.kind === 'malformed') return line;
    let chars = 0;
    for (let i = 0; i < line.values.length; i++) chars += line.values[i].length;
    if (chars > MAX_ROW_CHARS) {
      // One such row would fail its whole batch, and so the revision, at Kafka's message limit.
      return {
        kind: 'malformed',
        line: line.line,
        message: `a row of ${chars} characters is larger than a raw-topic message can carry (${MAX_ROW_CHARS})`,
        text: clipText(line.values.join(',')),
      };
    }
    if (line.header !== this.header) {
      this.header = line.header;
      this.control = this.controlColumns(line.header);
    }
    const control = this.control!;
    try {
      return {
        kind: 'row',
        cost: control.billedCost(line.values),
        currency: control.currency(line.values) ?? 'UNKNOWN',
      };
    } catch (err) {
      // The billed cost can fail on a column of its own (GCP: cost + credits): name that one.
      const field = (err instanceof InputError && err.where.field) || this.billedCostColumn;
      const prefix = `field ${field}: `;
      const message = (err as Error).message;
      return {
        kind: 'malformed',
        line: line.line,
        field,
        message: message.startsWith(prefix) ? message.slice(prefix.length) : message,
        text: clipText(JSON.stringify(columnsOf(line.header, line.values))),
      };
    }
  }
}

/**
 * Raw-topic v2 batching (schemas/raw-row-batch.avsc): consecutive rows with the same constants and
 * header go into one batch. 500 rows of a ~150-column CUR are ~400 KB; the char bound keeps a
 * message under Kafka's default 1 MB limit whatever the row width.
 */
const BATCH_MAX_ROWS = 500;
const BATCH_MAX_CHARS = 512 * 1024;
const NONE: RowBatch[] = [];

export class RawBatcher {
  private constants: BatchConstants | undefined;
  private header: Header | undefined;
  private rows: RawRow[] = [];
  private chars = 0;
  private readonly sealed: RowBatch[] = [];

  /** Adds a row; `constants` is compared by identity (one object per object read). */
  add(constants: BatchConstants, line: number, header: Header, values: readonly string[]): void {
    if (header !== this.header || constants !== this.constants) this.seal();
    this.header = header;
    this.constants = constants;
    this.rows.push({ line, values: values as string[] });
    for (let i = 0; i < values.length; i++) this.chars += values[i].length + 1;
    if (this.rows.length >= BATCH_MAX_ROWS || this.chars >= BATCH_MAX_CHARS) this.seal();
  }

  /** Closes the open batch. The collector does so before every transaction commit. */
  seal(): void {
    if (this.rows.length === 0 || this.header === undefined || this.constants === undefined) return;
    this.sealed.push({ ...this.constants, header: this.header as string[], rows: this.rows });
    this.rows = [];
    this.chars = 0;
  }

  /** The batches sealed so far (the open one stays open). */
  takeSealed(): RowBatch[] {
    return this.sealed.length === 0 ? NONE : this.sealed.splice(0);
  }

  /** Every batch sealed so far, and the open one. */
  take(): RowBatch[] {
    this.seal();
    return this.sealed.splice(0);
  }
}

/** A batch as a raw-topic message, keyed by its first row's record id (batches spread over partitions). */
export function rawBatchMessage(b: RowBatch): Message {
  return {
    key: recordIdOf(b.scope, b.revision_id, b.object, b.rows[0].line),
    value: encodeRawBatch(b),
    headers: { [SCHEMA_HEADER]: 'RawRowBatch' },
  };
}
