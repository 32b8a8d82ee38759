import { z } from 'zod';
import { num } from '../runtime/config-schema';

/** The `collector:` section of meterflow.yaml, common to every provider's collector. */
export const CollectorConfigSchema = z
  .object({
    poll_interval_ms: num('Time between two discovery passes of a long-running collector.').default(300_000),
    transaction_rows: num(
      'Lines per Kafka transaction (rows, dead letters and the checkpoint commit together).',
    ).default(5_000),
  })
  .strict();
