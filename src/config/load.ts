/**
 * Loads the effective configuration: built-in defaults ← config.toml ← NORA_* environment.
 * File: an explicit path, else NORA_CONFIG_PATH (fatal if missing), else ./config.toml (optional).
 * Every failure is a ConfigError whose message names the key and the expected form.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { parse as parseToml, TomlError } from 'smol-toml';
import { z } from 'zod';
import { errnoCode } from '../core/errors.ts';
import {
  closest,
  envBindings,
  EnvValueError,
  readEnvOverlay,
  type EnvOverlay,
  sameLetters,
  unknownEnvVariables,
  unwrap,
} from './env.ts';
import { type AppConfig, configSchema, type IssueOrigin } from './schema.ts';

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

export interface LoadOptions {
  readonly env?: NodeJS.ProcessEnv;
  /** Explicit file (CLI argument); wins over NORA_CONFIG_PATH. */
  readonly file?: string;
  readonly cwd?: string;
}

export interface LoadedConfig {
  readonly config: AppConfig;
  readonly file: string | undefined;
  readonly warnings: readonly string[];
  /** Keys the file sets that a NORA_* variable overrides (EnvOverride); none when absent. */
  readonly overridden?: readonly EnvOverride[] | undefined;
  /** Where each key's value came from (KeyOrigins); unknown when absent. */
  readonly origins?: KeyOrigins | undefined;
}

/**
 * Where the values of a loaded configuration came from, for warnings that name a setting: a
 * NORA_* variable, the config file, or neither (the default).
 */
export interface KeyOrigins {
  /** Dotted key (`auth.read_only_users`) → the variable that set it. */
  readonly variables: ReadonlyMap<string, string>;
  /** Dotted keys the file sets: tables and the keys in them (not inside arrays of tables). */
  readonly fileKeys: ReadonlySet<string>;
}

/**
 * What a warning puts after a setting's name to say where its value came from: ` (NORA_AUTH_ENABLED)`
 * when that variable set `key` (dotted), ` (default)` when neither a variable nor the file did,
 * nothing (an empty string) when the file did or `origins` is unknown. A variable named for a
 * value that came from config.toml sent operators to look for a variable nobody set (trial 19
 * authx F8).
 */
export function originNote(origins: KeyOrigins | undefined, key: string): string {
  if (origins === undefined) return '';
  const variable = origins.variables.get(key);
  if (variable !== undefined) return ` (${variable})`;
  return origins.fileKeys.has(key) ? '' : ' (default)';
}

/**
 * A key the config file sets that a NORA_* variable overrides: the variable's value is the one
 * used, at start and at every SIGHUP reload (the environment is read once per process).
 */
export interface EnvOverride {
  /** Dotted key: `auth.read_only_users`. */
  readonly key: string;
  readonly variable: string;
  /** The file's value, as parsed from TOML. */
  readonly fileValue: unknown;
  /** The file's value differs from the variable's (parsed as the variable is). */
  readonly differs: boolean;
  /** A secret (a password, a key): its value is never shown. */
  readonly secret: boolean;
}

/**
 * How a file key overridden by a variable is said: `auth.read_only_users in
 * /etc/nora/config.toml is overridden by NORA_AUTH_READ_ONLY_USERS: the file's ["carol","dave"]
 * is not used` (a secret's value not shown).
 */
export function describeOverride(override: EnvOverride, file: string | undefined): string {
  const value = override.secret
    ? 'value'
    : JSON.stringify(override.fileValue, (_, v: unknown) =>
        typeof v === 'bigint' ? Number(v) : v,
      );
  return `${override.key} in ${file ?? 'the config file'} is overridden by ${override.variable}: the file's ${value} is not used`;
}

export async function loadConfig(options: LoadOptions = {}): Promise<LoadedConfig> {
  const env = options.env ?? {};
  const cwd = options.cwd ?? process.cwd();
  const explicit = options.file ?? env['NORA_CONFIG_PATH'];
  const file =
    explicit === undefined || explicit === ''
      ? path.join(cwd, 'config.toml')
      : path.resolve(cwd, explicit);
  const required = explicit !== undefined && explicit !== '';

  let raw: Record<string, unknown> = {};
  let used: string | undefined;
  try {
    raw = parseTomlText(await fs.readFile(file, 'utf8'), file);
    used = file;
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    if (errnoCode(err) !== 'ENOENT' || required) {
      throw new ConfigError(`cannot read config file ${file}: ${(err as Error).message}`);
    }
  }
  return { ...parseConfigObject(raw, env), file: used };
}

/**
 * Only `[server] host` and `port` (with NORA_HOST / NORA_PORT), for a command that just needs to
 * reach the running server (`nora healthcheck`) when the whole file does not validate: the
 * server keeps serving on its previous configuration after a SIGHUP refused an edit, and a
 * probe failing on an unrelated key would have it restarted into the same error (trial 25 ops
 * F9). Throws ConfigError when even these do not read (no file where one is required, TOML
 * that does not parse, a bad host or port).
 */
export async function loadServerAddress(
  options: LoadOptions = {},
): Promise<{ host: string; port: number }> {
  const env = options.env ?? {};
  const explicit = options.file ?? env['NORA_CONFIG_PATH'];
  const file =
    explicit === undefined || explicit === ''
      ? path.join(options.cwd ?? process.cwd(), 'config.toml')
      : path.resolve(options.cwd ?? process.cwd(), explicit);
  let server: unknown;
  try {
    server = parseTomlText(await fs.readFile(file, 'utf8'), file)['server'];
  } catch (err) {
    // A file that does not even parse names no address; NORA_PORT (with NORA_HOST or the
    // default host) still does (trial 26 opsR F3).
    if (err instanceof ConfigError) {
      if (env['NORA_PORT'] === undefined) throw err;
    } else if (errnoCode(err) !== 'ENOENT' || (explicit !== undefined && explicit !== '')) {
      throw new ConfigError(`cannot read config file ${file}: ${(err as Error).message}`);
    }
  }
  const raw: Record<string, unknown> = {};
  if (isRecord(server)) {
    raw['server'] = Object.fromEntries(
      Object.entries(server).filter(([key]) => key === 'host' || key === 'port'),
    );
  }
  const addressEnv: NodeJS.ProcessEnv = {};
  for (const name of ['NORA_HOST', 'NORA_PORT']) {
    if (env[name] !== undefined) addressEnv[name] = env[name];
  }
  const { host, port } = parseConfigObject(raw, addressEnv).config.server;
  return { host, port };
}

/** Validates an already-parsed TOML object merged with the environment. */
export function parseConfigObject(
  raw: Record<string, unknown>,
  env: NodeJS.ProcessEnv = {},
): { config: AppConfig; warnings: string[]; overridden: EnvOverride[]; origins: KeyOrigins } {
  // Unknown keys and variables are warnings, except where an ignored typo would leave access
  // wider than written (`[auth]` and a rule are strict tables for that; the two below are not):
  // those are refused with the schema's errors.
  const refusals: string[] = [];
  const warnings: string[] = [];
  for (const { key, near } of unknownKeys(raw, configSchema)) {
    if (widensAccess(key, near)) refusals.push(refusedKey(key, near));
    else if (BUCKET_PREFIX_KEY.test(key)) refusals.push(refusedPrefix(`[storage] ${key.slice(8)}`));
    else {
      warnings.push(
        `unknown config key "${key}" (ignored)${near === undefined ? '' : ` (did you mean "${near}"?)`}`,
      );
    }
  }
  for (const { name, near } of unknownEnvVariables(configSchema, env)) {
    const hint = near === undefined ? '' : ` (did you mean ${near}?)`;
    // `NORA_AUTHENABLED` is NORA_AUTH_ENABLED with an underscore left out: a variable of [auth]
    // as much as a misspelt NORA_AUTH_* one is, and as dangerous ignored.
    const authFamily =
      name.startsWith(AUTH_VARIABLE_PREFIX) ||
      (near?.startsWith(AUTH_VARIABLE_PREFIX) === true && sameLetters(name, [near]) === near);
    if (BUCKET_PREFIX_VARIABLE.test(name)) {
      refusals.push(refusedPrefix(name));
    } else if (authFamily) {
      const what = name.startsWith(AUTH_VARIABLE_PREFIX)
        ? `unknown ${AUTH_VARIABLE_PREFIX}* variable`
        : 'unknown variable';
      refusals.push(
        `  ${name}: ${what}${hint}: refused, since a misspelt variable of [auth] would otherwise leave access wider than written (as an unknown key of the file's [auth] is)`,
      );
    } else {
      warnings.push(`unknown environment variable ${name} (ignored)${hint}`);
    }
  }
  const overlay = (() => {
    try {
      return readEnvOverlay(configSchema, env);
    } catch (err) {
      if (err instanceof EnvValueError) throw new ConfigError(err.message);
      throw err;
    }
  })();
  // A table in a variable's array form (`NORA_MAVEN_PROXIES='[{ uri = "https://…" }]'`) is
  // checked as the file's is: its unknown keys named with the variable (trial 21 authx F2).
  for (const { key, near } of unknownKeys(overlay.values, configSchema)) {
    const variable = variableOf(key, overlay.sources);
    const from = variable === undefined ? '' : ` (from ${variable})`;
    if (widensAccess(key, near)) refusals.push(refusedKey(key, near, from));
    else {
      warnings.push(
        `unknown key "${key}"${from} (ignored)${near === undefined ? '' : ` (did you mean "${near}"?)`}`,
      );
    }
  }
  const origins: KeyOrigins = { variables: overlay.sources, fileKeys: new Set(tableKeys(raw)) };
  const merged = mergeTables(raw, overlay.values);
  const result = configSchema.safeParse(merged);
  if (!result.success) {
    // An ignored key is often the cause (a repository's `proxies` instead of `upstreams`): say so.
    // Not for a key the error itself names (inside a strict table, e.g. a rule): not ignored.
    const refused = new Set(
      result.error.issues.flatMap((issue) =>
        issue.code === 'unrecognized_keys'
          ? issue.keys.map((key) => `unknown config key "${dottedPath([...issue.path, key])}"`)
          : [],
      ),
    );
    // A misspelt variable too (NORA_AUTH_ANONYMOUS_RAED=false beside a failing value).
    const ignored = warnings.filter(
      (w) =>
        w.startsWith('unknown environment variable') ||
        ((w.startsWith('unknown config key') || w.startsWith('unknown key')) &&
          ![...refused].some((r) => w.startsWith(r))),
    );
    const notes = ignored.length === 0 ? '' : `\n${ignored.map((w) => `  note: ${w}`).join('\n')}`;
    const refusedLines = refusals.length === 0 ? '' : `\n${refusals.join('\n')}`;
    throw new ConfigError(
      formatIssues(result.error, overlay.sources, overlay.forms, env, origins) +
        refusedLines +
        notes,
    );
  }
  if (refusals.length > 0) {
    const notes = warnings.map((w) => `\n  note: ${w}`).join('');
    throw new ConfigError(`invalid configuration:\n${refusals.join('\n')}${notes}`);
  }
  return {
    config: result.data,
    warnings,
    overridden: envOverrides(raw, overlay),
    origins,
  };
}

/** Unknown variables under this prefix are errors: they were meant for `[auth]` (trial 23 F8). */
const AUTH_VARIABLE_PREFIX = 'NORA_AUTH_';

/**
 * Whether the unknown key `key` (dotted, as unknownKeys gives it, with its nearest known key
 * `near`) was likely meant for a setting that narrows access, so that ignoring it leaves access
 * wider than written: a `[[repositories]]` entry's `anonymous_read` (`anonymous_reads`,
 * `anonymous_raed`, `anon_read`), which would otherwise fall back to `[auth] anonymous_read`
 * (true by default). `[auth]`, its rules and `[auth.oidc]` are strict tables: their unknown keys
 * are refused by the schema and never reach here.
 */
function widensAccess(key: string, near: string | undefined): boolean {
  const entry = /^repositories\[\d+\]\.([^.[]+)$/.exec(key);
  if (entry === null) return false;
  return near?.endsWith('.anonymous_read') === true || /anon/i.test(entry[1] ?? '');
}

/**
 * A key prefix inside the bucket (`[storage] prefix`, `NORA_STORAGE_S3_PREFIX`, …), which NORA
 * does not have: ignored, it would put this installation at the bucket's root beside whatever
 * the operator meant to keep apart (another NORA's blobs, which a gc here would take for
 * unreferenced). Refused, not warned about (trial 30 newB).
 */
const BUCKET_PREFIX_KEY = /^storage\.(s3_)?(key_)?prefix$/;
const BUCKET_PREFIX_VARIABLE = /^NORA_STORAGE_(S3_)?(KEY_)?PREFIX$/;

function refusedPrefix(what: string): string {
  return `  ${what}: refused: NORA has no key prefix inside a bucket (it stores at the bucket's root, blobs/…), so it would not keep this installation apart from anything else in the bucket; give each NORA installation a bucket of its own (the bucket's lease, nora-lease.json, stops a second one)`;
}

/** The error line of an unknown key widensAccess refuses, in the form of a strict table's. */
function refusedKey(key: string, near: string | undefined, from = ''): string {
  const at = key.lastIndexOf('.');
  const table = key.slice(0, at);
  const name = key.slice(at + 1);
  const hint =
    near === undefined ? '' : ` (did you mean "${near.slice(near.lastIndexOf('.') + 1)}"?)`;
  return `  ${table}${from}: unknown key "${name}"${hint}: refused, since a misspelt key here would otherwise leave access wider than written`;
}

/**
 * The variable that set `key` (`maven.proxies[0].uri`) or the value it sits in
 * (`maven.proxies` ← NORA_MAVEN_PROXIES); undefined when none did.
 */
function variableOf(key: string, sources: ReadonlyMap<string, string>): string | undefined {
  for (let at = key; at !== ''; at = at.replace(/(\[\d+\]|\.?[^.[]*)$/, '')) {
    const variable = sources.get(at);
    if (variable !== undefined) return variable;
  }
  return undefined;
}

/** The dotted keys of `raw`'s tables and sub-tables (`auth`, `auth.enabled`, `auth.oidc.issuer`). */
function tableKeys(raw: Record<string, unknown>, prefix = ''): string[] {
  return Object.entries(raw).flatMap(([key, value]) => {
    const dotted = `${prefix}${key}`;
    return [dotted, ...(isRecord(value) ? tableKeys(value, `${dotted}.`) : [])];
  });
}

/** The keys both `raw` (the file) and the variables of `overlay` set (trial 18 authx F11). */
function envOverrides(
  raw: Record<string, unknown>,
  overlay: ReturnType<typeof readEnvOverlay>,
): EnvOverride[] {
  const at = (root: unknown, keys: readonly string[]): unknown =>
    keys.reduce<unknown>((value, key) => (isRecord(value) ? value[key] : undefined), root);
  const secrets = new Set(
    envBindings(configSchema)
      .filter((binding) => binding.secret)
      .map((binding) => binding.path.join('.')),
  );
  const out: EnvOverride[] = [];
  for (const [key, variable] of overlay.sources) {
    const keys = key.split('.');
    const fileValue = at(raw, keys);
    if (fileValue === undefined) continue;
    const differs = !isDeepStrictEqual(normalised(fileValue), normalised(at(overlay.values, keys)));
    out.push({ key, variable, fileValue, differs, secret: secrets.has(key) });
  }
  return out;
}

/** TOML integers may come as bigint; a variable's number is a number. */
function normalised(value: unknown): unknown {
  return typeof value === 'bigint' ? Number(value) : value;
}

/** `auth.rules[0].path`: a key's path written as unknownKeys writes it. */
function dottedPath(path: readonly PropertyKey[]): string {
  return path
    .map((part, i) =>
      typeof part === 'number' ? `[${part}]` : `${i === 0 ? '' : '.'}${String(part)}`,
    )
    .join('');
}

/** `over` laid on `base`, table by table (a sub-table set by env keeps its other file keys). */
function mergeTables(
  base: Record<string, unknown>,
  over: Record<string, unknown>,
): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(over)) {
    const current = out[key];
    out[key] = isRecord(value) ? mergeTables(isRecord(current) ? current : {}, value) : value;
  }
  return out;
}

function parseTomlText(text: string, file: string): Record<string, unknown> {
  try {
    return parseToml(text);
  } catch (err) {
    if (err instanceof TomlError) {
      throw new ConfigError(
        `TOML parse error in ${file} at line ${err.line}: ${err.message.split('\n')[0] ?? ''}`,
      );
    }
    throw err;
  }
}

function formatIssues(
  error: z.ZodError,
  sources: Map<string, string>,
  forms: EnvOverlay['forms'],
  env: NodeJS.ProcessEnv,
  origins: KeyOrigins,
): string {
  const lines = error.issues.map((issue) => {
    // `auth.rules[0]`, as the warnings and docs number items (trial 21 authx F7).
    const key = dottedPath(issue.path) || '(root)';
    // An issue inside a value (docker.upstreams[0].url) names the variable that set the value.
    const source = issue.path
      .map((_, i) =>
        sources.get(
          issue.path
            .slice(0, issue.path.length - i)
            .map(String)
            .join('.'),
        ),
      )
      .find((name) => name !== undefined);
    const from = source ? ` (from ${source})` : '';
    const form = source === undefined ? undefined : forms.get(source);
    // Both forms the variable takes: the array form was not named to those who wrote it
    // (trial 21 authx F2); its example is the variable's own (an action list showed upstream
    // URLs: trial 28 newU F13).
    const syntax =
      form === undefined
        ? ''
        : `; ${source} takes "${form.env}" or ${form.file === undefined ? UPSTREAM_ARRAY_FORM : `the file's array '${form.file}'`}`;
    const message = withOrigin(
      (source === undefined ? undefined : envValueMessage(issue, env[source])) ??
        issueMessage(issue, schemaAt(configSchema, issue.path)),
      issue,
      origins,
    );
    return `  ${key}${from}: ${message}${syntax}`;
  });
  return `invalid configuration:\n${lines.join('\n')}`;
}

/**
 * `message` with where the other setting it names came from put after its label (a custom
 * issue's `params.origin`, schema.ts IssueOrigin): `[auth] admin_users (NORA_AUTH_ADMIN_USERS)`
 * only when that variable set it, the label alone for the file (originNote).
 */
function withOrigin(message: string, issue: z.core.$ZodIssue, origins: KeyOrigins): string {
  if (issue.code !== 'custom') return message;
  const origin = (issue.params as { origin?: IssueOrigin } | undefined)?.origin;
  if (origin === undefined) return message;
  return message.replace(origin.label, `${origin.label}${originNote(origins, origin.key)}`);
}

/**
 * A variable whose text is no boolean or number (env.ts parseBoolean/parseNumber leave such text
 * as it is): zod would say "expected boolean, received string", which is always so for a variable.
 * Says which texts are accepted and echoes the one given instead. Undefined for other issues.
 */
function envValueMessage(issue: z.core.$ZodIssue, value: string | undefined): string | undefined {
  if (issue.code !== 'invalid_type' || value === undefined) return undefined;
  const got = `got ${JSON.stringify(value)}`;
  if (issue.expected === 'boolean') {
    return `expected true or false (also 1/0, yes/no, on/off; any case), ${got}`;
  }
  if (issue.expected === 'number') {
    return `expected a number in decimal digits (such as 30 or 2.5; no 0x, 0o, 0b or exponent forms), ${got}`;
  }
  return undefined;
}

/** An upstream list variable's array form, for error messages (env.ts tomlArray). */
const UPSTREAM_ARRAY_FORM = `the file's array '["https://a.example", { url = "https://b.example", auth = "user:pass" }]'`;

/** TOML's word for a type zod names. */
const TOML_TYPES: Readonly<Record<string, string>> = {
  string: 'a string',
  number: 'a number',
  int: 'an integer',
  boolean: 'true or false',
  array: 'a list',
  object: 'a table',
  bigint: 'an integer',
};

/**
 * zod's message, except where it names zod's types or keys: a table expected where the file has
 * a string or a list is said in TOML's words (`[[auth.rules]]` written as `rules = ["…"]`); a
 * missing key is said to be missing ("Invalid input: expected string, received undefined" was
 * zod's, trial 21 authx F2); an unknown key in a strict table (`[auth]`, a rule) is named with
 * the nearest key of `table` (trial 21 authx F7); in a retention rule, with the valid keys.
 */
function issueMessage(issue: z.core.$ZodIssue, table: z.ZodType | undefined): string {
  if (issue.code === 'unrecognized_keys') {
    const shape = table instanceof z.ZodObject ? Object.keys(table.shape) : [];
    const named = issue.keys.map((key) => {
      const near = nearKey(key, shape);
      return `"${key}"${near === undefined ? '' : ` (did you mean "${near}"?)`}`;
    });
    const unknown = `unknown ${named.length === 1 ? 'key' : 'keys'} ${named.join(', ')}`;
    // A retention rule's risk is the opposite of an access rule's: a misspelt key there deletes
    // what it was meant to keep (trial 27 newR F3).
    if (issue.path[0] === 'retention') {
      return `${unknown}: not a retention rule key (they are ${shape.join(', ')}): refused, since a misspelt key here could delete versions it was meant to keep`;
    }
    return `${unknown}: refused, since a misspelt key here would otherwise leave access wider than written`;
  }
  if (issue.code !== 'invalid_type') return issue.message;
  // zod leaves `input` out of issues; its message ends in "received <type>".
  const received = /received (\w+)/.exec(issue.message)?.[1];
  if (issue.expected === 'object') {
    const got =
      received === 'array' ? ', got a list' : received === undefined ? '' : `, got a ${received}`;
    return `expected a table ({ key = value, … } inline, or a [[…]] block)${got}`;
  }
  const expected = TOML_TYPES[issue.expected] ?? issue.expected;
  if (received === 'undefined') return `missing: expected ${expected}`;
  return received === undefined
    ? issue.message
    : `expected ${expected}, got ${TOML_TYPES[received] ?? received}`;
}

/** The schema of the value at `path` (a table, a list), seen through defaults and pipes. */
function schemaAt(schema: z.ZodType, path: readonly PropertyKey[]): z.ZodType | undefined {
  let current: z.ZodType | undefined = seeThrough(schema);
  for (const part of path) {
    if (current instanceof z.ZodObject && typeof part === 'string') {
      const shape = current.shape as Record<string, z.ZodType>;
      current = Object.hasOwn(shape, part) ? seeThrough(shape[part] as z.ZodType) : undefined;
    } else if (current instanceof z.ZodArray && typeof part === 'number') {
      current = seeThrough(current.element as z.ZodType);
    } else {
      return undefined;
    }
  }
  return current;
}

/** `schema` without its defaults, optionals and preprocessing steps (unwrap, and any pipe's input). */
function seeThrough(schema: z.ZodType): z.ZodType {
  let current = unwrap(schema);
  while (current instanceof z.ZodPipe) current = unwrap(current.in as z.ZodType);
  return current;
}

/**
 * Keys that name the same idea in another section: `[maven] proxies` but a repository's
 * `upstreams`. An unknown key among them points at the sibling the table does have.
 */
const SYNONYMS: readonly (readonly string[])[] = [['proxies', 'upstreams', 'proxy', 'upstream']];

function nearKey(key: string, known: readonly string[]): string | undefined {
  const group = SYNONYMS.find((names) => names.includes(key));
  return group?.find((name) => known.includes(name)) ?? closest(key, known);
}

/** Keys of `raw` the schema does not read, dotted, each with the known sibling it is closest to. */
function unknownKeys(
  raw: unknown,
  schema: z.ZodType,
  prefix = '',
): { key: string; near: string | undefined }[] {
  const inner = unwrap(schema);
  if (inner instanceof z.ZodObject && isRecord(raw)) {
    const shape = inner.shape as Record<string, z.ZodType>;
    return Object.entries(raw).flatMap(([key, value]) => {
      // Own keys only: `constructor` or `__proto__` in a table would find Object.prototype's.
      const child = Object.hasOwn(shape, key) ? shape[key] : undefined;
      const dotted = prefix === '' ? key : `${prefix}.${key}`;
      if (child) return unknownKeys(value, child, dotted);
      const near = nearKey(key, Object.keys(shape));
      return [
        { key: dotted, near: near === undefined ? undefined : dotted.slice(0, -key.length) + near },
      ];
    });
  }
  if (inner instanceof z.ZodArray && Array.isArray(raw)) {
    return raw.flatMap((item, index) =>
      unknownKeys(item, inner.element as z.ZodType, `${prefix}[${index}]`),
    );
  }
  if (inner instanceof z.ZodPipe) {
    return unknownKeys(raw, inner.in as z.ZodType, prefix);
  }
  return [];
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
