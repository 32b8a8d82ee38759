import { z } from 'zod';
import { num, str } from '../runtime/config-schema';
import { MAX_RECORD_BYTES_DEFAULT } from './formats/rows';
import { MAX_EXPANSION_RATIO_DEFAULT } from './formats/decode';

/** The `collector:` section of meterflow.yaml, common to every provider's collector. */
export const CollectorConfigSchema = z
  .object({
    poll_interval_ms: num('Time between two discovery passes of a long-running collector.').default(300_000),
    transaction_rows: num(
      'Lines per Kafka transaction (rows, dead letters and the checkpoint commit together).',
    ).default(5_000),
    max_record_bytes: num(
      'Longest CSV record or JSON line of an export object; a longer one fails the object (and its revision) naming the object and line, instead of being buffered.',
    ).default(MAX_RECORD_BYTES_DEFAULT),
    max_expansion_ratio: num(
      'Most decompressed bytes per compressed byte of a gzip or zip export object (judged past its first 64 MiB); more fails the object as a decompression bomb. 0 turns the cap off.',
    ).default(MAX_EXPANSION_RATIO_DEFAULT),
    spool_dir: str(
      'Folder where a zip export object is spooled while it is read (a zip keeps its directory at the end). A full disk there pauses the revision until there is space; it never fails it. Default: the system temp folder.',
    ).optional(),
  })
  .strict();
