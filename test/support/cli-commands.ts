import { execFileSync } from 'node:child_process';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '../..');

/**
 * Checks command lines written in deployment files (compose services, Helm Deployments) against
 * the real `meterflow` CLI, by reading its own --help output: each word must be a subcommand the
 * CLI lists, or fill an argument slot of the command reached, and each --option must be one that
 * command accepts. A renamed subcommand or flag in cli/main.ts fails the deployment tests.
 */
export class CliCommands {
  private readonly helps = new Map<string, string>();

  help(words: string[]): string {
    const key = words.join(' ');
    let text = this.helps.get(key);
    if (text === undefined) {
      text = execFileSync(
        process.execPath,
        ['--import', 'tsx', path.join(ROOT, 'cli/main.ts'), ...words, '--help'],
        {
          cwd: ROOT,
          encoding: 'utf8',
          env: { ...process.env, METERFLOW_LOG__LEVEL: 'silent' },
        },
      );
      this.helps.set(key, text);
    }
    return text;
  }

  /** The subcommand names listed under "Commands:" in a help text. */
  static subcommands(help: string): string[] {
    const section = help.split(/^Commands:$/m)[1] ?? '';
    return [...section.matchAll(/^ {2}([a-z][a-z0-9-]*)/gm)].map((m) => m[1]);
  }

  /** The options listed under "Options:" in a help text (long names). */
  static options(help: string): string[] {
    const section = (help.split(/^Options:$/m)[1] ?? '').split(/^Commands:$/m)[0];
    return [...section.matchAll(/--([a-z][a-z0-9-]*)/g)].map((m) => `--${m[1]}`);
  }

  /**
   * The problems of one command line (empty when the CLI accepts it): the subcommand path it
   * reaches, and every word that is neither a subcommand, an argument slot nor a known option.
   */
  check(args: string[]): { command: string[]; positionals: string[]; problems: string[] } {
    const command: string[] = [];
    const positionals: string[] = [];
    const problems: string[] = [];
    for (let i = 0; i < args.length; i++) {
      const word = args[i];
      const help = this.help(command);
      if (word.startsWith('--')) {
        const name = word.split('=')[0];
        const options = CliCommands.options(help);
        if (!options.includes(name)) problems.push(`${[...command].join(' ')}: unknown option ${name}`);
        // An option followed by a value (`--ops-port <port>`) takes the next word.
        const line = help.split('\n').find((l) => l.includes(`${name} `) || l.trimEnd().endsWith(name));
        if (line && /--[a-z-]+ <[^>]+>/.test(line) && !word.includes('=')) i++;
        continue;
      }
      if (positionals.length === 0 && CliCommands.subcommands(help).includes(word)) {
        command.push(word);
        continue;
      }
      const usage = help.split('\n')[0];
      const slots =
        usage.match(/<[^>]+>|\[[a-z][^\]]*\]/g)?.filter((s) => s !== '[options]' && s !== '[command]') ?? [];
      if (positionals.length >= slots.length)
        problems.push(`${command.join(' ') || 'meterflow'}: unexpected argument ${word}`);
      positionals.push(word);
    }
    if (command.length === 0) problems.push('no meterflow subcommand');
    else {
      // A command group with subcommands and no options of its own (`sink`, `invoice`) does
      // nothing by itself; one with options (`api`) runs and has subcommands besides.
      const help = this.help(command);
      const ownOptions = CliCommands.options(help).filter((o) => o !== '--help');
      if (CliCommands.subcommands(help).length > 0 && ownOptions.length === 0)
        problems.push(`${command.join(' ')} needs a subcommand`);
    }
    return { command, positionals, problems };
  }
}
