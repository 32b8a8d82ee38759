import { createRequire } from 'node:module';
import type { Command } from 'commander';
import type { MeterflowConfig } from '../../runtime/config';

const load = createRequire(__filename);
const importModule = () => load('./import') as typeof import('./import');

/**
 * `meterflow kibana import`: registered on the program by cli/main.ts. Secrets come from the
 * environment (KIBANA_API_KEY, KIBANA_PASSWORD) so they stay out of shell history and `ps`.
 */
export function registerKibanaCommand(program: Command, config: () => MeterflowConfig): void {
  const kibana = program.command('kibana').description('the Kibana kit of deploy/kibana');
  kibana
    .command('import')
    .description(
      'import the data view (bound to the published usage alias <prefix>-usage) and the cost dashboard into Kibana, through its saved objects import API',
    )
    .requiredOption('--url <url>', "Kibana's base URL, e.g. https://kibana.internal:5601")
    .option('--prefix <prefix>', 'index prefix of the usage alias (default: elasticsearch.index_prefix)')
    .option('--space <id>', 'Kibana space (default: the default space)')
    .option(
      '--username <name>',
      'basic auth user (password from KIBANA_PASSWORD); default: KIBANA_API_KEY if set',
    )
    .option('--no-overwrite', 'fail on objects that already exist instead of replacing them')
    .option('--allow-insecure', 'allow credentials over plain http to a remote host')
    .action(
      async (opts: {
        url: string;
        prefix?: string;
        space?: string;
        username?: string;
        overwrite: boolean;
        allowInsecure?: boolean;
      }) => {
        const prefix = opts.prefix ?? config().elasticsearch.index_prefix;
        const result = await importModule().importSavedObjects({
          url: opts.url,
          prefix,
          space: opts.space,
          apiKey: opts.username === undefined ? process.env.KIBANA_API_KEY || undefined : undefined,
          username: opts.username,
          password: process.env.KIBANA_PASSWORD,
          overwrite: opts.overwrite,
          allowInsecure: opts.allowInsecure,
        });
        process.stderr.write(
          `imported ${result.successCount} saved objects for ${prefix}-usage into ${result.endpoint}\n`,
        );
      },
    );
}
