/**
 * examples/config.toml claims every key with its default: checked against the schema, so a key
 * added to the schema without its example line fails here (issue 11 found six missing).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { parse } from 'smol-toml';
import { z } from 'zod';
import { envBindings, unwrap } from '../../../src/config/env.ts';
import { parseConfigObject } from '../../../src/config/load.ts';
import { configSchema } from '../../../src/config/schema.ts';
import { PROJECT_ROOT } from '../../helpers/tools.ts';

const EXAMPLE = path.join(PROJECT_ROOT, 'examples', 'config.toml');

/** Table path (`docker`, `docker.upstreams`) → keys written in it, set or commented out. */
function keysByTable(text: string): Map<string, Set<string>> {
  const tables = new Map<string, Set<string>>([['', new Set()]]);
  let current = '';
  for (const line of text.split('\n')) {
    const header = /^\s*#?\s*\[\[?([a-z_.]+)\]\]?\s*(#.*)?$/.exec(line);
    if (header) {
      current = header[1] ?? '';
      if (!tables.has(current)) tables.set(current, new Set());
      continue;
    }
    const key = /^\s*#?\s*([a-z_][a-z0-9_]*)\s*=/.exec(line);
    if (key?.[1] !== undefined) tables.get(current)?.add(key[1]);
  }
  return tables;
}

/** Every table path and its keys in the schema; arrays of tables are walked into their element. */
function schemaTables(schema: z.ZodType, prefix = '', out = new Map<string, string[]>()) {
  const inner = unwrap(schema);
  if (inner instanceof z.ZodPipe) return schemaTables(inner.in as z.ZodType, prefix, out);
  if (inner instanceof z.ZodArray) return schemaTables(inner.element as z.ZodType, prefix, out);
  if (!(inner instanceof z.ZodObject)) return out;
  const shape = inner.shape as Record<string, z.ZodType>;
  out.set(prefix, Object.keys(shape));
  for (const [key, child] of Object.entries(shape)) {
    let element = unwrap(child);
    if (element instanceof z.ZodArray) element = unwrap(element.element as z.ZodType);
    if (element instanceof z.ZodObject || element instanceof z.ZodPipe) {
      schemaTables(child, prefix === '' ? key : `${prefix}.${key}`, out);
    }
  }
  return out;
}

test('examples/config.toml names every key of the schema', async () => {
  const written = keysByTable(await fs.readFile(EXAMPLE, 'utf8'));
  const tables = schemaTables(configSchema);
  const missing: string[] = [];
  for (const [table, keys] of tables) {
    if (table === '') continue;
    // A table written inline in its parent (`upstreams = [{ url, prefix }]`) counts as written.
    const parent = table.slice(0, table.lastIndexOf('.'));
    const leaf = table.slice(table.lastIndexOf('.') + 1);
    if (parent !== '' && written.get(parent)?.has(leaf) === true) continue;
    for (const key of keys) {
      const isTable = tables.has(`${table}.${key}`);
      const found =
        written.get(table)?.has(key) === true || (isTable && written.has(`${table}.${key}`));
      if (!found) missing.push(`${table}.${key}`);
    }
  }
  for (const table of tables.get('') ?? []) {
    if (!written.has(table)) missing.push(`[${table}]`);
  }
  assert.deepEqual(missing, [], 'add these keys to examples/config.toml');
});

test('examples/config.toml gives the defaults the schema gives', async () => {
  const example = parse(await fs.readFile(EXAMPLE, 'utf8'));
  assert.deepEqual(parseConfigObject(example).config, configSchema.parse({}));
});

test('docs tables name the environment variables a key really has', async () => {
  const bindings = new Map(envBindings(configSchema).map((b) => [b.path.join('.'), b.names]));
  const wrong: string[] = [];
  for (const name of await fs.readdir(path.join(PROJECT_ROOT, 'docs'))) {
    if (!name.endsWith('.md')) continue;
    const text = await fs.readFile(path.join(PROJECT_ROOT, 'docs', name), 'utf8');
    // Rows such as | `docker.upload_session_ttl` | `NORA_DOCKER_UPLOAD_SESSION_TTL` | … |
    for (const [, key = '', cell = ''] of text.matchAll(
      /^\| `([a-z_]+\.[a-z_]+)` \| ([^|]*) \|/gm,
    )) {
      const names = bindings.get(key);
      if (names === undefined) continue;
      const documented = [...cell.matchAll(/`(NORA_[A-Z0-9_]+)`/g)].map((m) => m[1]);
      if (
        documented.length === 0 ||
        documented.some((n) => n === undefined || !names.includes(n))
      ) {
        wrong.push(
          `docs/${name}: ${key} says "${cell.trim()}", its variables are ${names.join(', ')}`,
        );
      }
    }
  }
  assert.deepEqual(wrong, []);
});
