import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { goInstall } from '../../deploy/stack/go-install';
import { stackContext } from '../../deploy/stack/stack';
import { loadConfig } from '../../runtime/config';
import type { Manifest } from './kubernetes-schemas';

/** Helm, built from its Go module once per machine into ~/.cache/meterflow/helm-<version>. */
export const HELM_MODULE = 'helm.sh/helm/v3/cmd/helm';
export const HELM_VERSION = 'v3.22.0';

export const CHART_DIR = path.resolve(__dirname, '../../deploy/helm/meterflow');

export async function installHelm(): Promise<string> {
  const ctx = stackContext(loadConfig().config, (line) => process.stderr.write(`${line}\n`));
  // `helm version` answers from a complete binary, so one already built is reused.
  return goInstall(ctx, 'helm', HELM_MODULE, HELM_VERSION, { probe: ['version', '--short'] });
}

/** `helm template` of the chart with these values files and --set pairs, as parsed manifests. */
export function helmTemplate(helm: string, valuesFiles: string[] = [], sets: string[] = []): Manifest[] {
  const text = execFileSync(
    helm,
    [
      'template',
      'rel',
      CHART_DIR,
      '--namespace',
      'billing',
      ...valuesFiles.flatMap((f) => ['--values', f]),
      ...sets.flatMap((s) => ['--set', s]),
    ],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
  );
  return parseAllDocuments(text)
    .map((doc) => {
      if (doc.errors.length) throw new Error(`helm template printed invalid YAML: ${doc.errors[0].message}`);
      return doc.toJS() as Manifest | null;
    })
    .filter((m): m is Manifest => m !== null);
}
