import { loadConfig } from '../../runtime/config';
import { stackContext, stackStatus, stackUp } from '../../deploy/stack/stack';
import { pruneStaleResources } from '../support/stale-resources';

/**
 * Integration tests run against the real local stack. If it is not running, bring it up (this
 * installs the servers on a fresh machine, which is why `npm test` alone is enough there). The
 * stack is left running afterwards so the next run starts at once; `meterflow stack down` stops it.
 */
export default async function globalSetup(): Promise<void> {
  const { config } = loadConfig();
  const ctx = stackContext(config, (line) => process.stderr.write(`[stack] ${line}\n`));
  const statuses = await stackStatus(ctx);
  if (!statuses.every((s) => s.healthy)) {
    process.stderr.write(
      `\n[stack] bringing up: ${statuses
        .filter((s) => !s.healthy)
        .map((s) => s.name)
        .join(', ')}\n`,
    );
    await stackUp(ctx);
  }
  // Runs before this one left indices and topics behind (test/support/stale-resources.ts).
  await pruneStaleResources(config, (line) => process.stderr.write(`[stack] ${line}\n`));
}
