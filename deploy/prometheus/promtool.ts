import { loadConfig } from '../../runtime/config';
import { goInstall } from '../stack/go-install';
import { stackContext } from '../stack/stack';

/** github.com/prometheus/prometheus module version (Prometheus 3.16's promtool). */
export const PROMTOOL_VERSION = 'v0.316.0';

/**
 * The path of promtool (checks and unit-tests the alerting rules), built once per machine with
 * `go install` into the meterflow cache like the local stack's Go servers; later calls reuse it.
 */
export async function ensurePromtool(say: (line: string) => void = () => undefined): Promise<string> {
  const ctx = stackContext(loadConfig().config, say);
  // remove_all_sd leaves out the cloud service-discovery plugins (AWS, Azure, GCE and more),
  // which rule checks never use: on 2 cores the first build takes about 3 minutes instead of
  // about 14 (both measured with an empty Go build cache, the machine busy).
  return goInstall(ctx, 'promtool', 'github.com/prometheus/prometheus/cmd/promtool', PROMTOOL_VERSION, {
    probe: ['--version'],
    tags: ['remove_all_sd'],
  });
}
