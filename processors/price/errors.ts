import { ConfigError } from '../../runtime/errors';

/**
 * A price book that cannot be used: YAML syntax errors, schema violations and cross-reference
 * problems. `issues` holds every problem found, each naming the file, the line and (where the
 * problem is inside one) the rule, customer or plan, e.g.
 *
 *   pricebook.yaml line 14, rule "ec2-markup": markup_percent: expected a decimal string, got "abc"
 *
 * It is a ConfigError (code config_invalid, not retryable): a bad price book is fixed by a person,
 * and the previous valid book stays in force meanwhile.
 */
export class PriceBookError extends ConfigError {
  constructor(source: string, issues: string[]) {
    super(source, issues);
    const n = issues.length;
    this.message = `invalid price book ${source} (${n} problem${n === 1 ? '' : 's'}):\n  - ${issues.join('\n  - ')}`;
  }
}
