/**
 * Prints the configuration reference (markdown table) from the schema: key, environment
 * variables, default. README.md embeds its output; a test checks they stay in sync.
 */
import fs from 'node:fs';
import path from 'node:path';
import { envBindings } from '../src/config/env.ts';
import { configSchema } from '../src/config/schema.ts';

export function configReference(): string {
  const defaults: unknown = configSchema.parse({});
  const rows = envBindings(configSchema).map((binding) => {
    const table = binding.path.slice(0, -1).join('.');
    const key = binding.path.at(-1) ?? '';
    const value = binding.path.reduce<unknown>(
      (node, name) =>
        typeof node === 'object' && node !== null
          ? (node as Record<string, unknown>)[name]
          : undefined,
      defaults,
    );
    const shown = binding.secret ? '' : formatDefault(value);
    return `| \`[${table}] ${key}\` | ${binding.names.map((n) => `\`${n}\``).join(', ')} | ${shown} |`;
  });
  return ['| key | environment | default |', '|---|---|---|', ...rows].join('\n');
}

function formatDefault(value: unknown): string {
  if (value === undefined) return '(unset)';
  if (Array.isArray(value))
    return value.map((v: unknown) => upstreamUrl(v) ?? JSON.stringify(v)).join(', ');
  return `\`${typeof value === 'string' ? value : JSON.stringify(value)}\``;
}

function upstreamUrl(value: unknown): string | undefined {
  return typeof value === 'object' &&
    value !== null &&
    'url' in value &&
    typeof value.url === 'string'
    ? value.url
    : undefined;
}

const START = '<!-- config-reference:start -->';
const END = '<!-- config-reference:end -->';

/** The README's generated block, for the sync test and for `--write`. */
export function readmeBlock(readme: string): string | undefined {
  const start = readme.indexOf(START);
  const end = readme.indexOf(END);
  return start === -1 || end === -1 ? undefined : readme.slice(start + START.length, end).trim();
}

if (import.meta.main) {
  if (process.argv.includes('--write')) {
    const file = path.resolve(import.meta.dirname, '..', 'README.md');
    const readme = fs.readFileSync(file, 'utf8');
    const start = readme.indexOf(START);
    const end = readme.indexOf(END);
    if (start === -1 || end === -1) throw new Error('README.md has no config-reference markers');
    const next = `${readme.slice(0, start + START.length)}\n${configReference()}\n${readme.slice(end)}`;
    fs.writeFileSync(file, next);
  } else {
    process.stdout.write(`${configReference()}\n`);
  }
}
