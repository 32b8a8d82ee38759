import { execFileSync, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { defaultCacheDir } from '../../runtime/config';
import { withLock } from '../../deploy/stack/artifacts';

/*
 * The FinOps Foundation's official FOCUS validator (PyPI `focus-validator`), installed once per
 * machine into a virtual environment under the cache folder, from the pinned list beside this file,
 * with the package registry pip uses by default. Python >= 3.12 comes from PATH or pyenv.
 */

const REQUIREMENTS = path.join(__dirname, 'focus-validator.requirements.txt');
/** The FOCUS version the bundled model checks (`--validate-version`). */
export const FOCUS_VALIDATE_VERSION = '1.2.0.1';

function python312(): string {
  const explicit = process.env.FOCUS_VALIDATOR_PYTHON;
  if (explicit) return explicit;
  const works = (bin: string) =>
    spawnSync(bin, ['-c', 'import sys; assert sys.version_info >= (3, 12)']).status === 0;
  for (const bin of ['python3.13', 'python3.12', 'python3']) if (works(bin)) return bin;
  let root = path.join(process.env.HOME ?? '/root', '.pyenv');
  try {
    root = execFileSync('pyenv', ['root'], { encoding: 'utf8' }).trim();
  } catch {
    /* no pyenv on PATH: its default root */
  }
  const versions = fs.existsSync(path.join(root, 'versions'))
    ? fs
        .readdirSync(path.join(root, 'versions'))
        .filter((v) => /^3\.(1[2-9])\.\d+$/.test(v))
        .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }))
    : [];
  for (const v of versions.reverse()) {
    const bin = path.join(root, 'versions', v, 'bin', 'python3');
    if (works(bin)) return bin;
  }
  throw new Error('the FOCUS validator needs Python >= 3.12 (none on PATH or under pyenv)');
}

/** The validator's virtual environment, installed on first use (about a minute). */
export async function focusValidatorEnv(): Promise<string> {
  const pins = fs.readFileSync(REQUIREMENTS);
  const dir = path.join(
    defaultCacheDir(),
    `focus-validator-${crypto.hash('sha256', pins, 'hex').slice(0, 12)}`,
  );
  const ready = path.join(dir, '.installed');
  if (fs.existsSync(ready)) return dir;
  await withLock(`${dir}.lock`, async () => {
    if (fs.existsSync(ready)) return;
    fs.rmSync(dir, { recursive: true, force: true });
    execFileSync(python312(), ['-m', 'venv', dir], { stdio: 'pipe' });
    execFileSync(
      path.join(dir, 'bin', 'pip'),
      ['install', '--quiet', '--disable-pip-version-check', '--no-deps', '-r', REQUIREMENTS],
      { stdio: 'pipe', timeout: 15 * 60_000 },
    );
    fs.writeFileSync(ready, new Date().toISOString());
  });
  return dir;
}

export interface ValidatorReport {
  total: number;
  passed: number;
  failed: number;
  skipped: number;
  /** Rule id -> PASS | FAIL | SKIPPED, for every rule the validator reported. */
  status: Map<string, string>;
  failures: string[];
  output: string;
}

/** Runs the validator on a Parquet or CSV file of FOCUS rows (the CostAndUsage dataset). */
export async function validateFocus(file: string): Promise<ValidatorReport> {
  const env = await focusValidatorEnv();
  const sitePackages = execFileSync(
    path.join(env, 'bin', 'python'),
    ['-c', 'import focus_validator, os; print(os.path.dirname(os.path.dirname(focus_validator.__file__)))'],
    { encoding: 'utf8' },
  ).trim();
  // It opens focus_validator/rules/currency_codes.csv by a relative path: run it from site-packages.
  const run = spawnSync(
    path.join(env, 'bin', 'focus-validator'),
    [
      '--data-file',
      path.resolve(file),
      '--validate-version',
      FOCUS_VALIDATE_VERSION,
      '--block-download',
      '--focus-dataset',
      'CostAndUsage',
    ],
    { cwd: sitePackages, encoding: 'utf8', timeout: 5 * 60_000 },
  );
  const output = `${run.stdout}${run.stderr}`;
  const totals = /Total: (\d+) \| Pass: (\d+) \| Fail: (\d+) \| Skipped: (\d+)/.exec(output);
  if (!totals)
    throw new Error(`the FOCUS validator printed no totals (exit ${run.status}):\n${output.slice(-2000)}`);
  const status = new Map<string, string>();
  for (const m of output.matchAll(/^\S+\s+([A-Za-z]+-[A-Z]-\d{3}-[A-Z]): (PASS|FAIL|SKIPPED)/gmu))
    status.set(m[1], m[2]);
  return {
    total: Number(totals[1]),
    passed: Number(totals[2]),
    failed: Number(totals[3]),
    skipped: Number(totals[4]),
    status,
    failures: [...status].filter(([, s]) => s === 'FAIL').map(([id]) => id),
    output,
  };
}

/**
 * InvoiceId-C-004-C ("MUST be null when the charge is not associated with an invoice") and
 * InvoiceId-C-005-C ("MUST NOT be null when it is") carry no condition in the validator's model
 * (whether a charge is invoiced is not in the data), so every dataset with an InvoiceId column fails
 * one of the two: all-null fails C-005, all-set fails C-004. Their parent, InvoiceId-C-003-C, is
 * the OR of the two and is what decides; a report is conformant when it passes and nothing else fails.
 */
export const INVOICE_ID_PAIR = ['InvoiceId-C-004-C', 'InvoiceId-C-005-C'];

export function nonConformities(report: ValidatorReport): string[] {
  const out = report.failures.filter((id) => !INVOICE_ID_PAIR.includes(id));
  if (report.status.get('InvoiceId-C-003-C') !== 'PASS') out.push('InvoiceId-C-003-C');
  return out;
}
