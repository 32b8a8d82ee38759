import type { KafkaMessage, Message } from 'kafkajs';
import { Registry } from 'prom-client';
import { RawBatcher, RowAdmission, rawBatchMessage } from '../../../../collectors/core/raw-batches';
import { openLines } from '../../../../collectors/core/read-lines';
import { compileControlColumns } from '../../../../collectors/formats/columns';
import type { DiscoveredRevision, DiscoveryInput } from '../../../../collectors/core/discovery';
import { discoverAwsDataExports, discoverAwsLegacyCur } from '../../../../providers/aws/discovery';
import { discoverAzureAllExports } from '../../../../providers/azure/discovery';
import { discoverGcpExports } from '../../../../providers/gcp/discovery';
import type { CollectorName, ExportFormat } from '../../../../providers/registry';
import { DedupeState } from '../../../../processors/dedupe/dedupe';
import { dedupeProcessor } from '../../../../processors/dedupe/stage';
import { normalizeProcessor } from '../../../../processors/normalize/stage';
import { readOfflineNormalizeOptions } from '../../../../processors/offline/config';
import { LocalFolderStore, listFolder } from '../../../../processors/offline/fs-store';
import { usageRecordLine } from '../../../../processors/offline/output';
import { atCostPriceBook, loadPriceBook } from '../../../../processors/price';
import { priceProcessor } from '../../../../processors/price/stage';
import type { MeterflowConfig } from '../../../../runtime/config';
import { createStageMetrics } from '../../../../runtime/metrics';
import { AvroTypes, type DeadLetter, type UsageRecord } from '../../../../schemas';

/** A dead letter reduced to what both paths must agree on. */
export interface LetterKey {
  stage: string;
  reason: string;
  object: string | null;
  line: number | null;
  field: string | null;
}

/** Messages as a consumer receives them (the stage functions read key, value and headers only). */
function delivered(messages: Message[]): KafkaMessage[] {
  return messages.map(
    (m, i) =>
      ({
        key: m.key === undefined || m.key === null ? null : Buffer.from(m.key),
        value: m.value as Buffer,
        headers: m.headers ?? {},
        offset: String(i),
        timestamp: '0',
        attributes: 0,
      }) as KafkaMessage,
  );
}

/**
 * The streaming pipeline in one process, without a broker: the collector's source half (discovery,
 * readers, row admission, v2 batches encoded as raw-topic messages), then the normalize, dedupe and
 * price stage functions exactly as `meterflow process` runs them, each fed the previous one's
 * output messages. Returns the rated records as `meterflow rate` writes them, and every dead letter.
 */
export async function streamingPath(
  provider: CollectorName,
  folder: string,
  bucket: string,
  o: { config?: string; pricebook?: string },
): Promise<{ lines: string[]; letters: LetterKey[] }> {
  const store = new LocalFolderStore(folder, `local://${bucket}`);
  const input: DiscoveryInput = {
    bucket,
    prefix: '',
    objects: await listFolder(folder),
    readJson: (key) => store.readJson(key),
  };
  // The collectors' own discovery, at the prefix a GCP collector would be configured with.
  let revisions: DiscoveredRevision[];
  if (provider === 'aws')
    revisions = [...(await discoverAwsLegacyCur(input)), ...(await discoverAwsDataExports(input))];
  else if (provider === 'azure') revisions = await discoverAzureAllExports(input);
  else revisions = await discoverGcpExports({ ...input, prefix: 'gcp-exports' });

  const letters: LetterKey[] = [];
  const raw: Message[] = [];
  for (const rev of revisions) {
    const admission = new RowAdmission(
      (h) => compileControlColumns(rev.format as ExportFormat, h),
      rev.billed_cost_column,
    );
    const batcher = new RawBatcher();
    const seen = new Set<string>();
    for (const key of rev.files) {
      const object = store.url(key);
      // Discovery names each object once (resolveFiles), however often its manifest lists it.
      const constants = {
        provider: rev.provider,
        format: rev.format,
        scope: rev.scope,
        revision_id: rev.revision_id,
        billing_period: rev.billing_period,
        object,
      };
      seen.add(object);
      for await (const line of await openLines(store, key)) {
        const admitted = admission.admit(line);
        if (admitted.kind === 'malformed') {
          letters.push({
            stage: `collector.${provider}`,
            reason: 'malformed',
            object,
            line: admitted.line,
            field: admitted.field ?? null,
          });
        } else if (line.kind === 'row') batcher.add(constants, line.line, line.header, line.values);
      }
    }
    raw.push(...batcher.take().map(rawBatchMessage));
  }

  const metrics = createStageMetrics(new Registry(), 'paths-agree');
  const topics = { normalized: 'n', deduped: 'd', rated: 'r', deadLetter: 'dl' };
  const config = { normalize: readOfflineNormalizeOptions(o.config) } as MeterflowConfig;
  const book = o.pricebook ? loadPriceBook(o.pricebook) : atCostPriceBook();
  const out = (outputs: Array<{ topic: string; messages: Message[] }>, topic: string) =>
    outputs.find((x) => x.topic === topic)?.messages ?? [];
  const letterKeys = (messages: Message[]) =>
    messages.map((m) => {
      const d = AvroTypes.deadLetter.fromBuffer(m.value as Buffer) as DeadLetter;
      return { stage: d.stage, reason: d.reason, object: d.object, line: d.line, field: d.field };
    });

  const normalized = await normalizeProcessor(config, topics, metrics)(delivered(raw), 'raw', 0);
  letters.push(...letterKeys(out(normalized, 'dl')));
  const deduped = await dedupeProcessor(new DedupeState({ max_ids: 1_000_000 }), topics, metrics)(
    delivered(out(normalized, 'n')),
    'n',
    0,
  );
  const rated = await priceProcessor({ current: book }, topics, metrics)(
    delivered(out(deduped, 'd')),
    'd',
    0,
  );
  letters.push(...letterKeys(out(rated, 'dl')));
  const lines = out(rated, 'r').map((m) =>
    usageRecordLine(AvroTypes.usageRecord.fromBuffer(m.value as Buffer) as UsageRecord).slice(0, -1),
  );
  return { lines, letters };
}
