import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isInstalled, markInstalled, run, withLock } from '../../deploy/stack/artifacts';
import { defaultCacheDir } from '../../runtime/config';
import { AvroTypes, previousVersions, TopicSchema, type UsageRecord } from '../../schemas';
import { usageRecord } from '../support/usage-record';

/**
 * The topics' single-object encoding read and written by the reference implementation: Apache
 * Avro 1.12 for Java, from Maven, running test/interop/AvroSingleObject.java (Java's single-file
 * source launcher). What a Flink or Kafka Connect user's code does, in both directions.
 */
const AVRO = '1.12.1';
const SCHEMAS = path.join(__dirname, '..', '..', 'schemas');
const PROGRAM = path.join(__dirname, '..', 'interop', 'AvroSingleObject.java');

async function avroJars(): Promise<string> {
  const dir = path.join(defaultCacheDir(), `avro-java-${AVRO}`);
  if (isInstalled(dir)) return path.join(dir, 'libs');
  await withLock(`${dir}.lock`, async () => {
    if (isInstalled(dir)) return;
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(
      path.join(dir, 'pom.xml'),
      `<project><modelVersion>4.0.0</modelVersion><groupId>io.meterflow.test</groupId>` +
        `<artifactId>avro-java</artifactId><version>${AVRO}</version><packaging>pom</packaging>` +
        `<dependencies><dependency><groupId>org.apache.avro</groupId><artifactId>avro</artifactId>` +
        `<version>${AVRO}</version></dependency></dependencies></project>\n`,
    );
    await run('mvn', ['-q', '-B', 'dependency:copy-dependencies', '-DoutputDirectory=libs'], {
      cwd: dir,
      logFile: path.join(dir, 'install.log'),
    });
    markInstalled(dir);
  });
  return path.join(dir, 'libs');
}

describe('the topics read and written by Apache Avro for Java', () => {
  jest.setTimeout(300_000);
  let libs: string;
  let dir: string;
  beforeAll(async () => {
    libs = await avroJars();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meterflow-avro-java-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  /** Runs the Java program on a framed value; returns what it printed and the bytes it wrote back. */
  const java = (value: Buffer, olderWriters: string[] = []) => {
    const input = path.join(dir, 'in.bin');
    const output = path.join(dir, 'out.bin');
    fs.writeFileSync(input, value);
    const printed = execFileSync(
      'java',
      ['-cp', `${libs}/*`, PROGRAM, path.join(SCHEMAS, 'usage-record.avsc'), input, output, ...olderWriters],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
    );
    return { record: JSON.parse(printed) as Record<string, unknown>, bytes: fs.readFileSync(output) };
  };

  const record: UsageRecord = usageRecord({
    BilledCost: '0.000000000123456789012345',
    ServiceSubcategory: 'Virtual Machines',
    Tags: { team: 'core' },
  });

  it('Java reads what meterflow writes, and meterflow reads what Java writes, byte for byte', () => {
    const ours = AvroTypes.usageRecord.toBuffer(record);
    const { record: read, bytes } = java(ours);
    expect(read).toMatchObject({
      BilledCost: record.BilledCost,
      ServiceSubcategory: 'Virtual Machines',
      Tags: { team: 'core' },
      x_RecordId: record.x_RecordId,
    });
    // The same schema, fingerprint and encoding: Avro's framing of the record is our bytes.
    expect(bytes.equals(ours)).toBe(true);
    expect(AvroTypes.usageRecord.fromBuffer(bytes)).toEqual(record);
  });

  it('Java resolves a value written with the released version 1 into the current schema', () => {
    const [v1] = previousVersions('usage-record');
    const old = new TopicSchema('UsageRecord', v1).toBuffer(record);
    const v1File = path.join(SCHEMAS, 'history', 'usage-record', '1.avsc');
    const { record: read } = java(old, [v1File]);
    expect(read).toMatchObject({ BilledCost: record.BilledCost, ServiceSubcategory: null });
    // Without the older schema Java refuses the value instead of misreading it, as meterflow does.
    expect(() => java(old)).toThrow(/Cannot resolve schema for fingerprint/);
  });
});
