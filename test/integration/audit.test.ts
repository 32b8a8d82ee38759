import path from 'node:path';
import { runPublishPriceBook } from '../../processors/command';
import { commandActor } from '../../runtime/audit';
import { createKafka } from '../../runtime/kafka';
import { AvroTypes, type AuditEvent } from '../../schemas';
import { readTopic } from './collectors/kafka-read';
import { testConfig, uniqueName } from './helpers';

describe('audit events on the audit topic', () => {
  it('publishing a price book records who published which version, with its fingerprint', async () => {
    const base = testConfig();
    const config = { ...base, kafka: { ...base.kafka, topic_prefix: uniqueName('it-audit') } };
    const file = path.resolve(__dirname, '../fixtures/price/pricebook.example.yaml');
    const { message: said } = await runPublishPriceBook(config, file);
    const version = /version (\S+)/.exec(said)![1];

    const events = await readTopic(
      createKafka(config, 'it-audit-reader'),
      `${config.kafka.topic_prefix}.audit`,
      (v) => AvroTypes.auditEvent.fromBuffer(v) as AuditEvent,
    );
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      action: 'pricebook.published',
      actor: commandActor(),
      target: `version ${version}`,
      effect: { file: 'pricebook.example.yaml', fingerprint: expect.stringMatching(/^[0-9a-f]{64}$/) },
    });
    expect(said).toContain(events[0].effect.fingerprint.slice(0, 12));
    expect(Date.now() - Date.parse(events[0].at)).toBeLessThan(10 * 60_000);
  });
});
