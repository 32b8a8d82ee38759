import * as core from 'kubernetes-models/v1';
import * as apps from 'kubernetes-models/apps/v1';
import * as policy from 'kubernetes-models/policy/v1';
import * as monitoring from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';

/**
 * Validation of rendered manifests against the Kubernetes OpenAPI JSON schemas that the
 * kubernetes-models packages ship (no download): each model class validates its object on
 * `validate()`. The prometheus-operator package does the same for ServiceMonitor.
 */
const MODELS: Record<string, Record<string, unknown>> = {
  v1: core,
  'apps/v1': apps,
  'policy/v1': policy,
  'monitoring.coreos.com/v1': monitoring,
};

export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  [key: string]: unknown;
}

/** Throws, naming the manifest, when its kind is unknown here or it breaks its schema. */
export function validateManifest(manifest: Manifest): void {
  const where = `${manifest.apiVersion}/${manifest.kind} ${manifest.metadata?.name}`;
  const Model = MODELS[manifest.apiVersion]?.[manifest.kind] as
    (new (data: unknown) => { validate(): void }) | undefined;
  if (typeof Model !== 'function') throw new Error(`${where}: no schema known for this kind`);
  try {
    new Model(manifest).validate();
  } catch (err) {
    throw new Error(`${where}: ${(err as Error).message}`);
  }
}
