import { execFile, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { ensurePromtool } from '../../deploy/prometheus/promtool';
import { createS3 } from '../../providers/aws/store';
import { exportedMetricNames, metricNamesOf, samplesOf } from '../support/promql';
import { stageCountsOf } from '../support/stage-metrics';
import { curCsv, curLines, ensureBucket, gz, putCurRevision } from './collectors/cur-fixture';
import { eventually, exitOf, meterflowProcess, testConfig, uniqueName } from './helpers';

/**
 * The alerting rules of deploy/prometheus: promtool accepts them, their unit tests pass (and
 * catch a broken rule), and every metric they name is exported by the components of a real
 * pipeline (collector, processors, sink) running on the local stack.
 */

const RULES_DIR = path.resolve(__dirname, '../../deploy/prometheus');
const RULES = path.join(RULES_DIR, 'meterflow-alerts.yaml');
const RULE_TESTS = path.join(RULES_DIR, 'meterflow-alerts.test.yaml');

interface Rule {
  alert: string;
  expr: string;
}
interface RuleTests {
  tests: Array<{ alert_rule_test?: Array<{ alertname: string; exp_alerts: unknown[] }> }>;
}

const rules = (): Rule[] =>
  (parse(fs.readFileSync(RULES, 'utf8')) as { groups: Array<{ rules: Rule[] }> }).groups.flatMap(
    (g) => g.rules,
  );

function run(binary: string, args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(binary, args, { cwd: RULES_DIR }, (err, stdout, stderr) =>
      resolve({ code: err ? Number(err.code ?? 1) : 0, output: stdout + stderr }),
    );
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

async function scrape(port: number): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  if (res.status !== 200) throw new Error(`/metrics answered ${res.status}`);
  return res.text();
}

/** The value of the one sample whose name and labels are given (undefined when absent). */
function sampleOf(page: string, name: string, labels: Record<string, string>): number | undefined {
  return samplesOf(page, name).find((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    ?.value;
}

describe('alerting rules', () => {
  describe('with promtool', () => {
    let promtool: string;
    beforeAll(async () => {
      // Built once per machine with go install (minutes on a fresh one), then reused.
      promtool = await ensurePromtool((line) => process.stderr.write(`[promtool] ${line}\n`));
    }, 40 * 60_000);

    it('promtool check rules accepts every rule', async () => {
      const { code, output } = await run(promtool, ['check', 'rules', RULES]);
      expect(output).toContain(`SUCCESS: ${rules().length} rules found`);
      expect(code).toBe(0);
    });

    it('every alert has a unit test where it fires and one where it does not, and they pass', async () => {
      const cases = (parse(fs.readFileSync(RULE_TESTS, 'utf8')) as RuleTests).tests.flatMap(
        (t) => t.alert_rule_test ?? [],
      );
      for (const { alert } of rules()) {
        const mine = cases.filter((c) => c.alertname === alert);
        expect([alert, mine.some((c) => c.exp_alerts.length > 0)]).toEqual([alert, true]);
        expect([alert, mine.some((c) => c.exp_alerts.length === 0)]).toEqual([alert, true]);
      }
      const { code, output } = await run(promtool, ['test', 'rules', RULE_TESTS]);
      expect(output).toContain('SUCCESS');
      expect(code).toBe(0);
    });

    it('the unit tests catch a broken rule', async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meterflow-rules-'));
      try {
        // An unreconciled revision that no longer alerts.
        const broken = fs
          .readFileSync(RULES, 'utf8')
          .replace(
            '(meterflow_revisions{state="unreconciled"}) > 0',
            '(meterflow_revisions{state="unreconciled"}) > 1',
          );
        expect(broken).not.toBe(fs.readFileSync(RULES, 'utf8'));
        fs.writeFileSync(path.join(dir, 'meterflow-alerts.yaml'), broken);
        fs.copyFileSync(RULE_TESTS, path.join(dir, 'meterflow-alerts.test.yaml'));
        const { code, output } = await run(promtool, [
          'test',
          'rules',
          path.join(dir, 'meterflow-alerts.test.yaml'),
        ]);
        expect(code).not.toBe(0);
        expect(output).toContain('MeterflowRevisionUnreconciled');
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  describe('on a running pipeline', () => {
    const prefix = uniqueName('it-alerts');
    const bucket = uniqueName('alerts');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meterflow-alerts-'));
    const configFile = path.join(dir, 'meterflow.yaml');
    const children: ChildProcess[] = [];
    afterAll(async () => {
      for (const child of children)
        if (child.exitCode === null && child.signalCode === null) {
          const exit = exitOf(child);
          child.kill('SIGTERM');
          await exit;
        }
      fs.rmSync(dir, { recursive: true, force: true });
    });

    it('every metric the rules name is exported by a component, freshness and lag are reported, and every stage counts its records', async () => {
      const started = Date.now() / 1000;
      fs.writeFileSync(
        configFile,
        [
          'kafka:',
          `  topic_prefix: ${prefix}`,
          'elasticsearch:',
          `  index_prefix: ${prefix}`,
          'processor:',
          '  session_timeout_ms: 6000',
          'collector:',
          '  poll_interval_ms: 2000',
          'aws:',
          '  exports:',
          `    - { name: alerts, bucket: ${bucket}, prefix: '', type: cur-legacy }`,
          '',
        ].join('\n'),
      );
      const { client: s3 } = createS3(testConfig().aws);
      await ensureBucket(s3, bucket);
      await putCurRevision(s3, bucket, 'report', 'assembly-1', [
        { name: 'report-1.csv.gz', body: gz(curCsv(curLines(20))) },
      ]);

      const ports = {
        collector: await freePort(),
        processor: await freePort(),
        sink: await freePort(),
        invoices: await freePort(),
      };
      for (const [args, port] of [
        [['sink', 'elasticsearch'], ports.sink],
        [['invoice', 'schedule'], ports.invoices],
        [['process', 'all', '--instance', 'alerts'], ports.processor],
        [['collect', 'aws'], ports.collector],
      ] as const) {
        const child = meterflowProcess([...args, '--ops-port', String(port)], configFile, {
          stdio: ['ignore', 'ignore', 'inherit'],
        });
        children.push(child);
      }

      // The revision goes all the way: collected, processed, indexed, reconciled and published.
      const sink = await eventually(
        async () => {
          const page = await scrape(ports.sink);
          return sampleOf(page, 'meterflow_revisions', { state: 'published' }) === 1 ? page : undefined;
        },
        180_000,
        1000,
      );
      const collector = await scrape(ports.collector);
      const processor = await scrape(ports.processor);
      const invoices = await scrape(ports.invoices);

      const exported = new Set([
        ...exportedMetricNames(collector),
        ...exportedMetricNames(processor),
        ...exportedMetricNames(sink),
        ...exportedMetricNames(invoices),
      ]);
      const named = [...new Set(rules().flatMap((r) => metricNamesOf(r.expr)))].sort();
      expect(named.length).toBeGreaterThanOrEqual(rules().length - 2);
      expect(named.filter((name) => !exported.has(name))).toEqual([]);

      // Freshness: the publication and the collector's pass are stamped with this run's time.
      expect(
        sampleOf(sink, 'meterflow_last_published_revision_timestamp_seconds', { provider: 'aws' }),
      ).toBeGreaterThanOrEqual(Math.floor(started));
      expect(
        sampleOf(collector, 'meterflow_collector_last_success_timestamp_seconds', {
          component: 'collector.aws',
          export: 'alerts',
        }),
      ).toBeGreaterThanOrEqual(Math.floor(started));
      expect(
        sampleOf(collector, 'meterflow_collector_oldest_pending_revision_timestamp_seconds', {
          component: 'collector.aws',
          export: 'alerts',
        }),
      ).toBe(0);
      // Lag is reported for every input topic of every consumer group, per partition.
      const lagTopics = (page: string, component: string) =>
        new Set(
          page
            .split('\n')
            .filter(
              (l) =>
                l.startsWith('meterflow_consumer_lag_messages{') && l.includes(`component="${component}"`),
            )
            .map((l) => /topic="([^"]+)"/.exec(l)![1]),
        );
      expect(lagTopics(sink, 'sink.elasticsearch')).toEqual(
        new Set([`${prefix}.control`, `${prefix}.rated`, `${prefix}.dead-letter`]),
      );
      expect(lagTopics(processor, 'processor.dedupe')).toEqual(new Set([`${prefix}.normalized`]));
      expect(lagTopics(processor, 'processor.price')).toEqual(new Set([`${prefix}.deduped`]));

      // Every running stage exports the standard record counters, and they saw this run's 20 rows
      // go through: nothing failed or dropped, each stage sent every record on (the sink also the
      // revision's STARTED and COMPLETED control records). At least, not exactly: a redelivery
      // after a rebalance is counted again, and the counters do not claim exactly-once.
      const rows = 20;
      const stages: Array<[string, string, number]> = [
        [collector, 'collector.aws', rows],
        [processor, 'processor.normalize', rows],
        [processor, 'processor.dedupe', rows],
        [processor, 'processor.price', rows],
        [sink, 'sink.elasticsearch', rows + 2],
      ];
      for (const [page, component, records] of stages) {
        const counts = stageCountsOf(page, component);
        expect([component, counts.failed, counts.dropped]).toEqual([component, 0, 0]);
        expect([component, counts.received >= 1, counts.sent >= records]).toEqual([component, true, true]);
      }
    }, 300_000);
  });
});
