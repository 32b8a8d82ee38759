import { z } from 'zod';
import { MeterflowConfigSchema, type JsonSchema } from './config';

/**
 * The example meterflow.yaml that `meterflow config init` writes: every option of the schema in
 * runtime/config.ts with its default and its description, each line commented out. Generated from
 * the schema, like `meterflow config docs`, so it cannot drift from what the loader accepts.
 * Removing the leading `# ` of every line gives a file that loads with every default spelt out;
 * options without a default stay comments (as `# key: ...`) since an empty value is not valid.
 */

export function renderExampleConfig(): string {
  const json = z.toJSONSchema(MeterflowConfigSchema, { io: 'input', unrepresentable: 'any' }) as JsonSchema;
  const header = [
    '## meterflow configuration, written by `meterflow config init` from the configuration schema.',
    '## Every option is listed with its default and commented out: uncomment what you change.',
    '## Reference: docs/configuration.md. Check a file with `meterflow config check`.',
    '## Secrets: write `${ENV_VAR}` in a value, or `<option>_file: /run/secrets/...` for a password,',
    '## key, token or connection string, rather than the secret itself.',
    '',
  ];
  const body: string[] = [];
  section(json, '', MeterflowConfigSchema.parse({}), body, false);
  return `${[...header, ...body.map((l) => `# ${l}`)].join('\n')}\n`;
}

/**
 * Appends the YAML of a mapping's options at `indent`. `inert` means the mapping has no default
 * (an optional section such as kafka.sasl): its lines stay comments even once uncommented.
 */
function section(schema: JsonSchema, indent: string, defaults: unknown, out: string[], inert: boolean): void {
  const c = inert ? '# ' : '';
  for (const [key, child] of Object.entries(schema.properties ?? {})) {
    const inner = child.anyOf?.find((s) => s.properties) ?? child;
    const value =
      defaults && typeof defaults === 'object' ? (defaults as Record<string, unknown>)[key] : undefined;
    for (const text of describe(child.description ?? inner.description)) out.push(`${indent}# ${text}`);
    if (inner.properties) {
      const inertSection = inert || value === undefined;
      out.push(`${indent}${inertSection ? '# ' : ''}${key}:`);
      section(inner, `${indent}  `, value, out, inertSection);
      continue;
    }
    if (child.type === 'array' && child.items?.properties) {
      out.push(`${indent}${c}${key}: ${JSON.stringify(value ?? [])}`);
      out.push(`${indent}# each item:`);
      for (const [field, f] of Object.entries(child.items.properties)) {
        const required = child.items.required?.includes(field) ? ' (required)' : '';
        out.push(`${indent}#   ${field}${required}: ${oneLine(f.description ?? '')}`);
      }
      continue;
    }
    const shown = value ?? child.default;
    out.push(shown === undefined ? `${indent}# ${key}:` : `${indent}${c}${key}: ${JSON.stringify(shown)}`);
  }
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

/** A description wrapped at about 100 columns. */
function describe(text: string | undefined): string[] {
  if (!text) return [];
  const words = oneLine(text).split(' ');
  const lines: string[] = [];
  let line = '';
  for (const w of words) {
    if (line && line.length + w.length + 1 > 96) {
      lines.push(line);
      line = w;
    } else line = line ? `${line} ${w}` : w;
  }
  if (line) lines.push(line);
  return lines;
}
