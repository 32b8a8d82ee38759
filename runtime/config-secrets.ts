import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';

/**
 * Secrets kept out of meterflow.yaml. Two ways, both resolved before the file is validated:
 *
 * - `${NAME}` anywhere in a string value of the file is replaced by the environment variable NAME
 *   (`$${` writes a literal `${`); a variable that is not set is an error naming it and the option.
 * - Every secret option `<key>` (found in the schema by its name: passwords, keys, tokens,
 *   connection strings) also accepts `<key>_file`: the path of a file holding the value (a Docker
 *   or Kubernetes secret, `/run/secrets/es`), read with one trailing newline dropped. A relative
 *   path is relative to the configuration file. Setting both is an error.
 *
 * METERFLOW_* environment overrides can name `<KEY>_FILE` too (METERFLOW_ELASTICSEARCH__PASSWORD_FILE).
 */

/** Option names that hold a secret. gcp's `key_file` is a file already and is not one. */
const SECRET_NAME =
  /(^|_)(password|secret|secret_key|secret_access_key|api_key|account_key|sas_token|session_token|token|connection_string)$/;

interface JsonSchema {
  properties?: Record<string, JsonSchema>;
  anyOf?: JsonSchema[];
  items?: JsonSchema;
  type?: string | string[];
}

/** Dotted paths of the secret options of `schema` (objects only; no secret lives in a list). */
export function secretOptionPaths(schema: z.ZodType): string[] {
  const json = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as JsonSchema;
  const out: string[] = [];
  const walk = (node: JsonSchema, prefix: string) => {
    for (const [key, child] of Object.entries(node.properties ?? {})) {
      const name = prefix ? `${prefix}.${key}` : key;
      const inner = child.anyOf?.find((s) => s.properties) ?? child;
      if (inner.properties) walk(inner, name);
      else if (SECRET_NAME.test(key) && (child.type === 'string' || child.anyOf === undefined))
        out.push(name);
    }
  };
  walk(json, '');
  return out;
}

/** Where an option sits, for messages: `line 12` in the file, or undefined. */
export type Locate = (keyPath: string[]) => string | undefined;

const REFERENCE = /\$(\$)?\{([^}]*)\}/g;

/**
 * Replaces `${NAME}` references in every string of `raw` (the file's content) in place; returns
 * one problem per missing variable.
 */
export function substituteEnvReferences(raw: unknown, env: NodeJS.ProcessEnv, locate: Locate): string[] {
  const issues: string[] = [];
  const visit = (value: unknown, keyPath: string[]): unknown => {
    if (typeof value === 'string') {
      return value.replace(REFERENCE, (whole, escaped: string | undefined, name: string) => {
        if (escaped) return whole.slice(1);
        if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
          issues.push(`${at(keyPath, locate)}: "\${${name}}" is not a valid environment variable reference`);
          return whole;
        }
        const v = env[name];
        if (v === undefined) {
          issues.push(
            `${at(keyPath, locate)}: environment variable ${name} is not set (referenced as \${${name}})`,
          );
          return whole;
        }
        return v;
      });
    }
    if (Array.isArray(value)) {
      value.forEach((item, i) => (value[i] = visit(item, [...keyPath, String(i)])));
      return value;
    }
    if (value && typeof value === 'object') {
      const obj = value as Record<string, unknown>;
      for (const key of Object.keys(obj)) obj[key] = visit(obj[key], [...keyPath, key]);
    }
    return value;
  };
  visit(raw, []);
  return issues;
}

/**
 * Replaces each `<secret>_file` option of `merged` (file and environment) by the file's content in
 * place; returns one problem per unreadable file or option set twice.
 */
export function readSecretFiles(
  merged: Record<string, unknown>,
  secretPaths: readonly string[],
  baseDir: string,
  locate: Locate,
): string[] {
  const issues: string[] = [];
  for (const dotted of secretPaths) {
    const keyPath = dotted.split('.');
    const key = keyPath[keyPath.length - 1];
    let parent: unknown = merged;
    for (const k of keyPath.slice(0, -1))
      parent = parent && typeof parent === 'object' ? (parent as Record<string, unknown>)[k] : undefined;
    if (!parent || typeof parent !== 'object' || Array.isArray(parent)) continue;
    const obj = parent as Record<string, unknown>;
    const fileKey = `${key}_file`;
    if (!(fileKey in obj)) continue;
    const filePath = [...keyPath.slice(0, -1), fileKey];
    const file = obj[fileKey];
    delete obj[fileKey];
    if (typeof file !== 'string' || file === '') {
      issues.push(`${at(filePath, locate)}: expected the path of a file holding ${dotted}`);
      continue;
    }
    if (obj[key] !== undefined) {
      issues.push(`${at(filePath, locate)}: ${dotted} is set too; set one of ${key} and ${fileKey}`);
      continue;
    }
    const resolved = path.resolve(baseDir, file);
    try {
      obj[key] = fs.readFileSync(resolved, 'utf8').replace(/\r?\n$/, '');
    } catch (err) {
      issues.push(
        `${at(filePath, locate)}: cannot read the secret file ${resolved} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
      );
    }
  }
  return issues;
}

function at(keyPath: string[], locate: Locate): string {
  const where = locate(keyPath);
  return `${keyPath.join('.')}${where ? ` at ${where}` : ''}`;
}
