import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DockerfileParser } from 'dockerfile-ast';
import { COLLECTOR_NAMES } from '../../../providers/registry';
import { loadConfig } from '../../../runtime/config';
import { CliCommands } from '../../support/cli-commands';
import { CHART_DIR, helmTemplate, installHelm } from '../../support/helm';
import { validateManifest, type Manifest } from '../../support/kubernetes-schemas';

/**
 * The Helm chart (deploy/helm/meterflow), rendered by the real helm with its default values and
 * with every optional part on, then checked: every manifest against the Kubernetes schemas (and
 * the prometheus-operator schema for ServiceMonitor), and the chart's invariants on the result.
 * Needs no stack; helm is built with `go install` once per machine.
 */
const ROOT = path.resolve(__dirname, '../../..');
const ALL_VALUES = path.join(CHART_DIR, 'ci/all-providers-values.yaml');

interface EnvVar {
  name: string;
  value?: string;
}
interface Probe {
  httpGet?: { path: string; port: string | number };
}
interface Container {
  name: string;
  image?: string;
  args?: string[];
  env?: EnvVar[];
  envFrom?: Array<{ secretRef?: { name: string } }>;
  ports?: Array<{ name: string; containerPort: number }>;
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: { allowPrivilegeEscalation?: boolean; runAsNonRoot?: boolean; runAsUser?: number };
  volumeMounts?: Array<{ name: string; mountPath: string }>;
}
interface Deployment extends Manifest {
  spec: {
    replicas: number;
    strategy: { type: string };
    selector: { matchLabels: Record<string, string> };
    template: {
      metadata: { labels: Record<string, string> };
      spec: {
        securityContext?: { runAsNonRoot?: boolean; runAsUser?: number };
        containers: Container[];
        volumes: Array<{ name: string; configMap?: { name: string } }>;
      };
    };
  };
}
interface Pdb extends Manifest {
  spec: { selector: { matchLabels: Record<string, string> } };
}

const deployments = (ms: Manifest[]) => ms.filter((m): m is Deployment => m.kind === 'Deployment');
const component = (d: Deployment) => d.spec.template.metadata.labels['app.kubernetes.io/component'];
const matches = (selector: Record<string, string>, labels: Record<string, string>) =>
  Object.entries(selector).every(([k, v]) => labels[k] === v);

let helm: string;
let defaults: Manifest[];
let all: Manifest[];

beforeAll(async () => {
  // First run on a machine: go install helm (minutes on 2 cores); later runs reuse it.
  helm = await installHelm();
  defaults = helmTemplate(helm);
  all = helmTemplate(helm, [ALL_VALUES]);
}, 20 * 60_000);

describe('helm chart deploy/helm/meterflow', () => {
  it('passes helm lint with the default values and with every optional part on', () => {
    for (const args of [[], ['--values', ALL_VALUES]]) {
      const out = execFileSync(helm, ['lint', CHART_DIR, '--strict', ...args], { encoding: 'utf8' });
      expect(out).toMatch(/1 chart\(s\) linted, 0 chart\(s\) failed/);
    }
  });

  it('renders only manifests that are valid against the Kubernetes and prometheus-operator schemas', () => {
    for (const manifests of [defaults, all]) {
      expect(manifests.length).toBeGreaterThan(0);
      for (const m of manifests) expect(() => validateManifest(m)).not.toThrow();
    }
    expect(all.filter((m) => m.kind === 'ServiceMonitor')).toHaveLength(2);
    // The validation itself rejects a wrong manifest (so the loop above proves something).
    const broken = structuredClone(deployments(all)[0]) as unknown as { spec: { replicas: unknown } };
    broken.spec.replicas = 'two';
    expect(() => validateManifest(broken as unknown as Manifest)).toThrow(/replicas must be integer/);
  });

  it("runs the image of this version: the chart's appVersion is package.json's, as the compose file's tag", () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
    for (const d of deployments(all))
      expect(d.spec.template.spec.containers[0]).toMatchObject({ image: `meterflow:${pkg.version}` });
    expect(fs.readFileSync(path.join(ROOT, 'deploy/compose/compose.yaml'), 'utf8')).toContain(
      `image: meterflow:${pkg.version}`,
    );
  });

  it('runs one singleton collector (1 replica, Recreate) per provider with exports, none without', () => {
    expect(deployments(defaults).filter((d) => component(d).startsWith('collect-'))).toHaveLength(0);
    const collectors = deployments(all).filter((d) => component(d).startsWith('collect-'));
    expect(collectors.map((d) => component(d)).sort()).toEqual(
      COLLECTOR_NAMES.map((n) => `collect-${n}`).sort(),
    );
    for (const d of collectors) {
      expect(d.spec.replicas).toBe(1);
      expect(d.spec.strategy.type).toBe('Recreate');
      expect(d.spec.template.spec.containers[0].args?.slice(0, 2)).toEqual([
        'collect',
        component(d).slice(8),
      ]);
    }
  });

  it('scales processors, sink and API with the values, and keeps publisher and invoice schedule single', () => {
    const byComponent = new Map(deployments(all).map((d) => [component(d), d]));
    expect(byComponent.get('process-normalize')?.spec.replicas).toBe(3);
    expect(byComponent.get('process-dedupe')?.spec.replicas).toBe(2);
    expect(byComponent.get('sink')?.spec.replicas).toBe(3);
    expect(byComponent.get('api')?.spec.replicas).toBe(2);
    for (const name of ['publisher', 'invoice-schedule']) {
      expect(byComponent.get(name)?.spec.replicas).toBe(1);
      expect(byComponent.get(name)?.spec.strategy.type).toBe('Recreate');
    }
    // values.schema.json: a wrong value is refused by helm, naming where it is.
    expect(() => helmTemplate(helm, [], ['processors.price.replicas=two'])).toThrow(
      /\/processors\/price\/replicas': got string, want integer/,
    );
    const scaled = helmTemplate(
      helm,
      [],
      ['processors.price.replicas=5', 'sink.replicas=4', 'api.replicas=3'],
    );
    const scaledBy = new Map(deployments(scaled).map((d) => [component(d), d.spec.replicas]));
    expect([scaledBy.get('process-price'), scaledBy.get('sink'), scaledBy.get('api')]).toEqual([5, 4, 3]);
  });

  it('runs every container as the image user (non-root) with no privilege escalation', () => {
    // The uid the chart runs as must be the one the image creates (deploy/container/Dockerfile).
    const dockerfile = DockerfileParser.parse(
      fs.readFileSync(path.join(ROOT, 'deploy/container/Dockerfile'), 'utf8'),
    );
    const user = dockerfile
      .getInstructions()
      .filter((i) => i.getKeyword() === 'USER')
      .pop();
    const imageUid = Number(user?.getArgumentsContent()?.split(':')[0]);
    expect(imageUid).toBeGreaterThan(0);
    for (const d of deployments(all)) {
      const pod = d.spec.template.spec;
      expect(pod.securityContext?.runAsNonRoot).toBe(true);
      expect(pod.securityContext?.runAsUser).toBe(imageUid);
      for (const c of pod.containers) {
        expect(c.securityContext?.allowPrivilegeEscalation).toBe(false);
        expect(c.securityContext?.runAsUser ?? pod.securityContext?.runAsUser).not.toBe(0);
        expect(Object.keys(c.resources?.requests ?? {})).toEqual(expect.arrayContaining(['cpu', 'memory']));
        expect(c.resources?.limits?.memory).toBeDefined();
      }
    }
  });

  it('probes /healthz (liveness) and /readyz (readiness) on a port each container declares', () => {
    for (const d of deployments(all)) {
      for (const c of d.spec.template.spec.containers) {
        expect(c.livenessProbe?.httpGet?.path).toBe('/healthz');
        expect(c.readinessProbe?.httpGet?.path).toBe('/readyz');
        const port = c.livenessProbe?.httpGet?.port;
        const declared = c.ports?.find((p) => p.name === port);
        expect(declared).toBeDefined();
        expect(c.readinessProbe?.httpGet?.port).toBe(port);
        // The port the probe reaches is the one the command serves on.
        const flag = component(d) === 'api' ? '--port' : '--ops-port';
        const args = c.args ?? [];
        expect(args[args.indexOf(flag) + 1]).toBe(String(declared?.containerPort));
      }
    }
  });

  it('gives every Deployment with more than one replica a PodDisruptionBudget, and none when disabled', () => {
    const pdbs = all.filter((m): m is Pdb => m.kind === 'PodDisruptionBudget');
    const multi = deployments(all).filter((d) => d.spec.replicas > 1);
    expect(multi.length).toBeGreaterThan(0);
    for (const d of multi) {
      const covering = pdbs.filter((p) =>
        matches(p.spec.selector.matchLabels, d.spec.template.metadata.labels),
      );
      expect({ deployment: d.metadata.name, pdbs: covering.length }).toEqual({
        deployment: d.metadata.name,
        pdbs: 1,
      });
    }
    const off = helmTemplate(helm, [ALL_VALUES], ['podDisruptionBudget.enabled=false']);
    expect(off.filter((m) => m.kind === 'PodDisruptionBudget')).toHaveLength(0);
  });

  it('runs only commands and flags the meterflow CLI accepts', () => {
    const cli = new CliCommands();
    for (const d of deployments(all)) {
      const args = d.spec.template.spec.containers[0].args ?? [];
      const checked = cli.check(args);
      expect({ deployment: d.metadata.name, problems: checked.problems }).toEqual({
        deployment: d.metadata.name,
        problems: [],
      });
      if (checked.command[0] === 'collect') expect(COLLECTOR_NAMES).toContain(checked.positionals[0]);
      if (checked.command[0] === 'process')
        expect(['normalize', 'dedupe', 'price']).toContain(checked.positionals[0]);
    }
  });

  it("mounts a meterflow.yaml that the project's own loader accepts in every container's environment", () => {
    for (const manifests of [defaults, all]) {
      const configMaps = manifests.filter((m) => m.kind === 'ConfigMap') as Array<
        Manifest & { data: Record<string, string> }
      >;
      expect(configMaps).toHaveLength(1);
      const secrets = manifests.filter((m) => m.kind === 'Secret') as Array<
        Manifest & { stringData?: Record<string, string> }
      >;
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meterflow-helm-'));
      const file = path.join(dir, 'meterflow.yaml');
      fs.writeFileSync(file, configMaps[0].data['meterflow.yaml']);
      const publishers: string[] = [];
      for (const d of deployments(manifests)) {
        const pod = d.spec.template.spec;
        expect(pod.volumes.find((v) => v.name === 'config')?.configMap?.name).toBe(
          configMaps[0].metadata.name,
        );
        for (const c of pod.containers) {
          expect(c.volumeMounts?.find((v) => v.name === 'config')?.mountPath).toBe('/etc/meterflow');
          const env: NodeJS.ProcessEnv = {};
          for (const ref of c.envFrom ?? []) {
            const secret = secrets.find((s) => s.metadata.name === ref.secretRef?.name);
            expect(secret).toBeDefined();
            Object.assign(env, secret?.stringData);
          }
          for (const e of c.env ?? []) env[e.name] = e.value;
          expect(env.METERFLOW_CONFIG).toBe('/etc/meterflow/meterflow.yaml');
          delete env.METERFLOW_CONFIG;
          const { config } = loadConfig({ path: file, env });
          expect(config.local_stack).toBe(false);
          expect(config.ops.host).toBe('0.0.0.0');
          if (component(d) === 'api') expect(config.api.host).toBe('0.0.0.0');
          if (c.args?.[0] === 'sink' && config.sink.publisher) publishers.push(component(d));
          if (component(d).startsWith('collect-')) {
            const provider = component(d).slice(8) as (typeof COLLECTOR_NAMES)[number];
            expect(config[provider].exports.length).toBeGreaterThan(0);
          }
        }
      }
      // Exactly one sink process runs the revision publisher, and it is the singleton.
      expect(publishers).toEqual(['publisher']);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('wires credentials from a chart-made Secret or an existing one, and refuses non-METERFLOW keys', () => {
    const made = all.find((m) => m.kind === 'Secret') as Manifest & { stringData: Record<string, string> };
    expect(Object.keys(made.stringData).sort()).toEqual([
      'METERFLOW_ELASTICSEARCH__API_KEY',
      'METERFLOW_KAFKA__SASL__PASSWORD',
    ]);
    for (const d of deployments(all))
      expect(d.spec.template.spec.containers[0].envFrom).toEqual([
        { secretRef: { name: made.metadata.name } },
      ]);

    const existing = helmTemplate(helm, [ALL_VALUES], ['credentials.existingSecret=billing-creds']);
    expect(existing.filter((m) => m.kind === 'Secret')).toHaveLength(0);
    for (const d of deployments(existing))
      expect(d.spec.template.spec.containers[0].envFrom).toEqual([{ secretRef: { name: 'billing-creds' } }]);
    expect(() => helmTemplate(helm, [], ['credentials.env.KAFKA_PASSWORD=x'])).toThrow(
      /credentials\.env\.KAFKA_PASSWORD: keys are METERFLOW_\* configuration overrides/,
    );
  });

  it('scrapes every ops endpoint through the ServiceMonitor, and the API with its bearer key', () => {
    const services = all.filter((m) => m.kind === 'Service') as Array<
      Manifest & { spec: { selector: Record<string, string>; ports: Array<{ name: string }> } }
    >;
    const monitors = all.filter((m) => m.kind === 'ServiceMonitor') as Array<
      Manifest & {
        spec: {
          selector: { matchLabels: Record<string, string> };
          endpoints: Array<{ port: string; path: string; authorization?: { credentials: { name: string } } }>;
        };
      }
    >;
    for (const monitor of monitors) {
      const targets = services.filter((s) =>
        matches(monitor.spec.selector.matchLabels, s.metadata.labels ?? {}),
      );
      expect(targets).toHaveLength(1);
      const [endpoint] = monitor.spec.endpoints;
      expect(endpoint.path).toBe('/metrics');
      expect(targets[0].spec.ports.map((p) => p.name)).toContain(endpoint.port);
      // The pods behind the Service: each declares the scraped port.
      const pods = deployments(all).filter((d) =>
        matches(targets[0].spec.selector, d.spec.template.metadata.labels),
      );
      expect(pods.length).toBeGreaterThan(0);
      for (const d of pods)
        expect(d.spec.template.spec.containers[0].ports?.map((p) => p.name)).toContain(endpoint.port);
      if (endpoint.port === 'ops') {
        // Every component with an ops port is scraped.
        const withOps = deployments(all).filter((d) =>
          d.spec.template.spec.containers[0].ports?.some((p) => p.name === 'ops'),
        );
        expect(pods.map((d) => d.metadata.name).sort()).toEqual(withOps.map((d) => d.metadata.name).sort());
      } else {
        expect(endpoint.authorization?.credentials.name).toBe('meterflow-prometheus-key');
      }
    }
    expect(defaults.filter((m) => m.kind === 'ServiceMonitor')).toHaveLength(0);
  });
});
