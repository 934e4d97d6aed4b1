/**
 * NORA_* environment overlay, derived from the schema (never written out per key):
 * `[server] port` ← NORA_PORT, `[<section>] <key>` ← NORA_<SECTION>_<KEY>, unless a field's
 * metadata names its variables (aliases such as NORA_DOCKER_PROXIES) or a parser for lists.
 */
import { parse as parseToml } from 'smol-toml';
import { z } from 'zod';
import type { FieldMeta } from './fields.ts';

/** Sections whose keys map without the section name (NORA_HOST, not NORA_SERVER_HOST). */
const UNPREFIXED_SECTIONS = new Set(['server']);

export interface EnvBinding {
  /** Dotted config path, e.g. `docker.proxy_timeout`. */
  readonly path: readonly string[];
  readonly names: readonly string[];
  readonly parse: (value: string) => unknown;
  readonly secret: boolean;
  /** An empty variable is a value, not "unset" (FieldMeta.emptyIsValue). */
  readonly emptyIsValue: boolean;
  /** The variable's syntax, named in error messages (FieldMeta.envForm). */
  readonly form: string | undefined;
  /** The file's array form, as an example (FieldMeta.fileForm). */
  readonly fileForm: string | undefined;
}

/**
 * Every config leaf with its environment variable names and string parser. Sub-tables are walked
 * too (`[auth.oidc] enabled` ← NORA_AUTH_OIDC_ENABLED); arrays of tables are file-only.
 */
export function envBindings(schema: z.ZodType): EnvBinding[] {
  const root = unwrap(schema);
  if (!(root instanceof z.ZodObject)) return [];
  const bindings: EnvBinding[] = [];
  for (const [section, sectionSchema] of Object.entries<z.ZodType>(root.shape)) {
    const prefix = UNPREFIXED_SECTIONS.has(section) ? 'NORA' : `NORA_${section.toUpperCase()}`;
    collectBindings(unwrap(sectionSchema), [section], prefix, bindings);
  }
  return bindings;
}

function collectBindings(
  table: z.ZodType,
  path: readonly string[],
  prefix: string,
  out: EnvBinding[],
): void {
  if (!(table instanceof z.ZodObject)) return; // arrays of tables (repositories) are file-only
  for (const [key, field] of Object.entries<z.ZodType>(table.shape)) {
    const meta = fieldMeta(field);
    const derived = `${prefix}_${key.toUpperCase()}`;
    const inner = unwrap(field);
    if (inner instanceof z.ZodObject && meta.fromEnv === undefined) {
      collectBindings(inner, [...path, key], derived, out);
      continue;
    }
    const parse = meta.fromEnv ?? parserFor(inner);
    if (!parse) continue;
    out.push({
      path: [...path, key],
      names: meta.env ?? [derived],
      parse,
      secret: meta.secret === true || isSecret(field),
      emptyIsValue: meta.emptyIsValue === true,
      form: meta.envForm,
      fileForm: meta.fileForm,
    });
  }
}

export interface EnvOverlay {
  readonly values: Record<string, Record<string, unknown>>;
  /** config path → the variable that supplied it, for error messages. */
  readonly sources: Map<string, string>;
  /** variable → its syntax (and its file array form's example), for those that declare one. */
  readonly forms: Map<string, { readonly env: string; readonly file: string | undefined }>;
}

export function readEnvOverlay(schema: z.ZodType, env: NodeJS.ProcessEnv): EnvOverlay {
  const values: Record<string, Record<string, unknown>> = {};
  const sources = new Map<string, string>();
  const forms: EnvOverlay['forms'] = new Map();
  for (const binding of envBindings(schema)) {
    const name = binding.names.find(
      (n) => env[n] !== undefined && (env[n] !== '' || binding.emptyIsValue),
    );
    if (name === undefined) continue;
    const raw = env[name] ?? '';
    const [section = '', ...rest] = binding.path;
    let table: Record<string, unknown> = (values[section] ??= {});
    for (const key of rest.slice(0, -1)) {
      const next = table[key];
      table = isRecord(next) ? next : (table[key] = {});
    }
    try {
      table[rest.at(-1) ?? ''] = binding.parse(raw);
    } catch (err) {
      if (!(err instanceof EnvValueError)) throw err;
      throw new EnvValueError(
        `invalid value for ${binding.path.join('.')} (from ${name}): ${err.message}`,
      );
    }
    sources.set(binding.path.join('.'), name);
    if (binding.form !== undefined) forms.set(name, { env: binding.form, file: binding.fileForm });
  }
  return { values, sources, forms };
}

/**
 * `NORA_*` variables read outside the config schema: the config file path, the `nora go
 * publish` client's registry and token, test and tool knobs.
 */
const NON_CONFIG_VARIABLES = new Set([
  'NORA_CONFIG_PATH',
  'NORA_GO_REGISTRY',
  'NORA_TOKEN',
  'NORA_TOOLS_DIR',
  'NORA_APT_MAX_AGE_MIN',
  'NORA_SKIP_NPM_TOOLS',
  // Env only (never a file key): src/curation/engine.ts reads it at start and on SIGHUP.
  'NORA_CURATION_BYPASS_TOKEN',
]);
const NON_CONFIG_PREFIXES = ['NORA_TEST_', 'NORA_BENCH_'];

/**
 * One warning per `NORA_*` variable in `env` that no config key reads (a typo is otherwise
 * silently ignored), with a "did you mean" when a known variable has the same letters (underscores
 * aside: `NORA_AUTHENABLED`), is close (edit distance ≤ 3), is the same name with its section
 * (`NORA_AUTH_…`) left out, or the same name with one more word (`NORA_AUTH_HTPASSWD_FILE`).
 * Variables of the test and tool scripts are not config and are left alone.
 */
export function unknownEnvWarnings(schema: z.ZodType, env: NodeJS.ProcessEnv): string[] {
  return unknownEnvVariables(schema, env).map(
    ({ name, near }) =>
      `unknown environment variable ${name} (ignored)${near === undefined ? '' : ` (did you mean ${near}?)`}`,
  );
}

/**
 * The `NORA_*` variables of `env` no config key reads, sorted, each with the known variable it is
 * likely a typo of (see unknownEnvWarnings). Variables of the test and tool scripts are left out.
 */
export function unknownEnvVariables(
  schema: z.ZodType,
  env: NodeJS.ProcessEnv,
): { name: string; near: string | undefined }[] {
  const known = envBindings(schema).flatMap((b) => b.names);
  const all = new Set([...known, ...NON_CONFIG_VARIABLES]);
  return Object.keys(env)
    .filter((name) => name.startsWith('NORA_') && !all.has(name))
    .filter((name) => !NON_CONFIG_PREFIXES.some((prefix) => name.startsWith(prefix)))
    .sort()
    .map((name) => ({
      name,
      near:
        sameLetters(name, [...all]) ??
        closest(name, [...all]) ??
        withSection(name, [...all]) ??
        withLastWord(name, [...all]),
    }));
}

/**
 * The known variable that is `name` with underscores left out or put in (`NORA_AUTHENABLED`,
 * `NORA_AUTH_ANONYMOUSREAD` → `NORA_AUTH_ANONYMOUS_READ`), if one is: the same letters name the
 * same key, whatever the edit distance says (loadConfig refuses such a near miss of a
 * `NORA_AUTH_*` variable as it refuses a misspelt `NORA_AUTH_*` one).
 */
export function sameLetters(name: string, candidates: readonly string[]): string | undefined {
  const letters = name.replaceAll('_', '');
  return candidates.find((candidate) => candidate.replaceAll('_', '') === letters);
}

/**
 * The one candidate that is `name` with a last word added (`NORA_AUTH_HTPASSWD` →
 * `NORA_AUTH_HTPASSWD_FILE`), if exactly one is: too far by edit distance to be found as a typo.
 */
function withLastWord(name: string, candidates: readonly string[]): string | undefined {
  const found = candidates.filter((candidate) => candidate.startsWith(`${name}_`));
  return found.length === 1 ? found[0] : undefined;
}

/**
 * The one candidate that is `name` with a section put in (`NORA_HTPASSWD_FILE` →
 * `NORA_AUTH_HTPASSWD_FILE`), if exactly one is.
 */
function withSection(name: string, candidates: readonly string[]): string | undefined {
  const tail = `_${name.slice('NORA_'.length)}`;
  const found = candidates.filter((candidate) => candidate.endsWith(tail));
  return found.length === 1 ? found[0] : undefined;
}

/**
 * The candidate nearest to `name` by edit distance, if near enough to be a likely typo; else the
 * one candidate that is `name` with more words after it (`leeway` → `leeway_secs`,
 * `NORA_AUTH_OIDC_LEEWAY` → `NORA_AUTH_OIDC_LEEWAY_SECS`: a unit left out is too far by edit
 * distance; trial 25 ops F3), if exactly one is.
 */
export function closest(name: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.min(3, Math.floor(name.length / 3)) + 1;
  for (const candidate of candidates) {
    const distance = editDistance(name, candidate);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  if (best !== undefined || name.length < 3) return best;
  const longer = candidates.filter((candidate) => candidate.startsWith(`${name}_`));
  return longer.length === 1 ? longer[0] : undefined;
}

/**
 * Edit distance with insertions, deletions, substitutions and swaps of two neighbours (optimal
 * string alignment): `prot` is one typo from `port`, as `levle` is from `level`. O(|a|·|b|) on
 * short names.
 */
function editDistance(a: string, b: string): number {
  const rows: number[][] = [Array.from({ length: b.length + 1 }, (_, j) => j)];
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const above = rows[i - 1] ?? [];
      let best = Math.min(
        (above[j] ?? 0) + 1,
        (row[j - 1] ?? 0) + 1,
        (above[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        best = Math.min(best, (rows[i - 2]?.[j - 2] ?? 0) + 1);
      }
      row.push(best);
    }
    rows.push(row);
  }
  return rows[a.length]?.[b.length] ?? 0;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function fieldMeta(field: z.ZodType): FieldMeta {
  return (field.meta() ?? {}) as FieldMeta;
}

function isSecret(field: z.ZodType): boolean {
  let current: z.ZodType | undefined = field;
  while (current) {
    if (fieldMeta(current).secret === true) return true;
    current = inner(current);
  }
  return false;
}

export function unwrap(schema: z.ZodType): z.ZodType {
  let current = schema;
  for (;;) {
    const next = inner(current);
    if (!next) return current;
    current = next;
  }
}

function inner(schema: z.ZodType): z.ZodType | undefined {
  if (
    schema instanceof z.ZodDefault ||
    schema instanceof z.ZodOptional ||
    schema instanceof z.ZodNullable
  ) {
    return schema.unwrap() as z.ZodType;
  }
  // z.preprocess (fields.ts upstreamEntry): a normalising step in front of the real shape, which
  // is what the walkers (env bindings, unknown keys, masking, docs) must see.
  if (schema instanceof z.ZodPipe && schema.in instanceof z.ZodTransform) {
    return schema.out as z.ZodType;
  }
  return undefined;
}

function parserFor(schema: z.ZodType): ((value: string) => unknown) | undefined {
  if (schema instanceof z.ZodNumber) return parseNumber;
  if (schema instanceof z.ZodBoolean) return parseBoolean;
  if (schema instanceof z.ZodString || schema instanceof z.ZodEnum) return (value) => value;
  if (schema instanceof z.ZodArray && unwrap(schema.element as z.ZodType) instanceof z.ZodString) {
    return parseListVariable;
  }
  return undefined;
}

/**
 * A list variable's items: the file's own array syntax (`'["carol", "dave"]'`, see tomlArray) or
 * a comma list (`carol, dave`), blank items dropped. The one parser of every list-valued `NORA_*`
 * variable: the user and name lists (through parserFor), `NORA_GO_PRIVATE` and `NORA_GO_SUMDB`
 * (go/config.ts); the upstream lists take the array form through parseUpstreamList (fields.ts).
 * Throws EnvValueError for a value starting with `[` that is not a TOML array of strings.
 */
export function parseListVariable(value: string): string[] {
  return (tomlArray(value, 'strings') as string[] | undefined) ?? commaItems(value);
}

/** `a, b,,c` → `['a', 'b', 'c']`. */
function commaItems(value: string): string[] {
  return value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/**
 * A variable's value that cannot be read: the message says why and how to write it. readEnvOverlay
 * adds the variable's name; loadConfig turns it into a ConfigError (start-up refused, exit 2).
 */
export class EnvValueError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EnvValueError';
  }
}

/** `[::1]`, `[fe80::1%eth0]/64`, `[::1]:8080`: a bracketed IPv6 address, not an array. */
const BRACKETED_IPV6 = /^\[[0-9a-f:.]*:[0-9a-f:.]*(%[\w.-]+)?\](\/\d+|:\d+)?$/i;

/**
 * A list variable given in the file's own syntax (`NORA_AUTH_READ_ONLY_USERS='["carol"]'`, pasted
 * from config.toml): its items. Read as one comma item, it was the user `["carol"]`, and the
 * user meant stayed a writer (trial 18 authx F2); `NORA_GO_PRIVATE='["corp.example.com"]'` was
 * the pattern `["corp.example.com"]` and private module paths were asked upstream (trial 20 authx
 * F4). Undefined for a value that does not start with `[` (`carol,dave`) or is a bracketed IPv6
 * list (`[::1]`), which is then split on commas.
 * `items`: `strings` for a list of strings; `upstreams` for an upstream list, whose items may also
 * be inline tables (`{ url = "https://…", auth = "user:pass" }`), as in the file: the schema
 * then checks them, and error messages never repeat the value (it may hold credentials).
 * Throws EnvValueError for any other value starting with `[` that is not such a TOML array
 * (`[carol, dave]`, `["carol",`, `["carol", 1]`): split on commas it gave the names `[carol` and
 * `dave]`, and a `read_only_users` set so protected nobody (trial 19 authx F3).
 */
export function tomlArray(value: string, items: 'strings' | 'upstreams'): unknown[] | undefined {
  const trimmed = value.trim();
  if (!trimmed.startsWith('[')) return undefined;
  // A comma list of addresses, some bracketed (`[fd00::1]/64, 10.0.0.1`): every item with a
  // bracket is a bracketed IPv6 address (trial 21 authx F1).
  const commaSplit = commaItems(trimmed);
  if (
    commaSplit.length > 0 &&
    commaSplit.every((item) => BRACKETED_IPV6.test(item) || !/[[\]]/.test(item))
  ) {
    return undefined;
  }
  const tables = items === 'upstreams';
  let reason: string;
  try {
    const parsed: unknown = parseToml(`v = ${trimmed}`)['v'];
    if (!Array.isArray(parsed)) throw new Error('not an array');
    const list: unknown[] = parsed;
    const bad = list.findIndex((item) => typeof item !== 'string' && !(tables && isRecord(item)));
    if (bad === -1) return list;
    reason = tables
      ? `item ${bad + 1} is ${Array.isArray(parsed[bad]) ? 'a list' : `a ${typeof parsed[bad]}`}, not a URL string or a table`
      : `item ${bad + 1} (${JSON.stringify(parsed[bad])}) is not a string`;
  } catch (err) {
    reason = (err instanceof Error ? err.message : String(err)).split('\n')[0] ?? '';
  }
  if (tables) {
    throw new EnvValueError(
      `starts with "[" but is not a TOML array of URL strings and tables (${reason}); ` +
        `write '["https://a.example", { url = "https://b.example" }]' (a table takes the ` +
        `file's keys), or a comma list without brackets, https://a.example,https://b.example`,
    );
  }
  // The names the value seems to hold, for the two forms that work: each item without the
  // brackets and quotes around it (`'["a:b"],x'` gave `"a:b\"]"`, trial 21 authx F2).
  const names = trimmed
    .split(',')
    .map((s) => s.replace(/^[\s[\]"']+|[\s[\]"']+$/g, ''))
    .filter((s) => s !== '');
  const example = names.length > 0 ? names : ['carol', 'dave'];
  throw new EnvValueError(
    `starts with "[" but is not a TOML array of strings (${reason}); ` +
      `quote each item, '[${example.map((n) => JSON.stringify(n)).join(', ')}]', ` +
      `or write a comma list without brackets, ${example.join(',')}`,
  );
}

/**
 * Plain decimal digits, a fraction allowed (the schema refuses one where the key is an integer,
 * as it does in the file). `Number()` alone also took JavaScript's literals: `NORA_PORT=0x10`
 * listened on port 16, `0b11` on 3, `1e3` was 1000 (trial 25 ops F8); nobody means those.
 */
const DECIMAL = /^[+-]?\d+(?:\.\d+)?$/;

/**
 * A decimal number (`DECIMAL`, spaces around it ignored); any other text is left as it is, so the
 * schema reports the right key and load.ts `envValueMessage` says what is expected.
 */
function parseNumber(value: string): unknown {
  const trimmed = value.trim();
  return DECIMAL.test(trimmed) && Number.isFinite(Number(trimmed)) ? Number(trimmed) : value;
}

function parseBoolean(value: string): unknown {
  const normalized = value.trim().toLowerCase();
  if (['true', '1', 'yes', 'on'].includes(normalized)) return true;
  if (['false', '0', 'no', 'off'].includes(normalized)) return false;
  return value;
}
