import { AvroTypes, type UsageRecord } from '../../../../schemas';
import { toUsageDocument, usageDocumentJson } from '../../../../sinks/elasticsearch/indices';
import { usageRecord } from '../../../support/usage-record';

/** As the sink meets a record: decoded from the rated topic's Avro. */
const decoded = (r: UsageRecord) =>
  AvroTypes.usageRecord.fromBuffer(AvroTypes.usageRecord.toBuffer(r)) as UsageRecord;

describe('usageDocumentJson', () => {
  const cases: Array<[string, UsageRecord]> = [
    ['a plain record', usageRecord()],
    [
      'tags, negative amounts and a null field',
      usageRecord({
        Tags: { team: 'payments', 'cost-center': 'cc "7"' },
        BilledCost: '-0.000000001',
        EffectiveCost: '-3',
        InvoiceId: null,
        x_RatedCost: '-12.5',
      }),
    ],
    [
      'amounts without exact parts (19 decimals, units past 2^53) and no tags',
      usageRecord({
        Tags: {},
        BilledCost: '0.0000000000000000001',
        EffectiveCost: '90071992547409930',
        x_RatedCost: '1e3',
      }),
    ],
    ['text that JSON must escape', usageRecord({ ServiceName: 'Line\nbreak \\ "quoted" \u2028 é' })],
  ];

  it.each(cases)('is the JSON text of the usage document, byte for byte: %s', (_name, record) => {
    for (const r of [record, decoded(record)]) {
      const json = usageDocumentJson(r);
      expect(json).toBe(JSON.stringify(toUsageDocument(r)));
      // And it parses to the document (one object, no duplicate or lost member).
      expect(JSON.parse(json)).toEqual(JSON.parse(JSON.stringify(toUsageDocument(r))));
    }
  });

  it('carries the derived fields', () => {
    const doc = JSON.parse(
      usageDocumentJson(
        usageRecord({ Tags: { team: 'a' }, BilledCost: '-1.25', x_Scope: 's', x_Revision: 'r' }),
      ),
    );
    expect(doc.x_PublishKey).toBe('s@r');
    expect(doc.x_TagPairs).toEqual(['team=a']);
    expect(doc.x_Exact.BilledCost).toEqual({ units: -2, nano: 750_000_000, atto: 0 });
  });
});
