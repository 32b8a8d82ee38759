import { z } from 'zod';
import { num, str } from '../runtime/config-schema';

/** The `processor:` section of meterflow.yaml: the normalize, dedupe and price stages. */
export const ProcessorConfigSchema = z
  .object({
    instance_id: str(
      'Stable name of this processor instance (a pod name). Part of its Kafka transactional id, so a restarted instance fences its predecessor. Default: the host name.',
    ).optional(),
    dedupe_max_ids: num(
      'Record ids the dedupe stage tracks per instance (about 145 bytes each); least recently seen revisions are forgotten first.',
    ).default(1_000_000),
    session_timeout_ms: num(
      'Consumer-group session timeout: how long a dead instance holds its partitions before a rebalance.',
    ).default(30_000),
    price_book_file: str(
      'Price book published to the price-book topic by `meterflow pricebook publish`; unset: rate at cost (markup 0).',
    ).optional(),
  })
  .strict();
