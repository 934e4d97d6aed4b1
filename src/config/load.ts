/**
 * Loads the effective configuration: built-in defaults ← config.toml ← NORA_* environment.
 * File: an explicit path, else NORA_CONFIG_PATH (fatal if missing), else ./config.toml (optional).
 * Every failure is a ConfigError whose message names the key and the expected form.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { parse as parseToml, TomlError } from 'smol-toml';
import { z } from 'zod';
import { errnoCode } from '../core/errors.ts';
import { closest, readEnvOverlay, unknownEnvWarnings, unwrap } from './env.ts';
import { type AppConfig, configSchema } from './schema.ts';

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

/** Validates an already-parsed TOML object merged with the environment. */
export function parseConfigObject(
  raw: Record<string, unknown>,
  env: NodeJS.ProcessEnv = {},
): { config: AppConfig; warnings: string[] } {
  const warnings = [
    ...unknownKeys(raw, configSchema).map(
      ({ key, near }) =>
        `unknown config key "${key}" (ignored)${near === undefined ? '' : ` (did you mean "${near}"?)`}`,
    ),
    ...unknownEnvWarnings(configSchema, env),
  ];
  const overlay = readEnvOverlay(configSchema, env);
  const merged = mergeTables(raw, overlay.values);
  const result = configSchema.safeParse(merged);
  if (!result.success) {
    throw new ConfigError(formatIssues(result.error, overlay.sources));
  }
  return { config: result.data, warnings };
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

function formatIssues(error: z.ZodError, sources: Map<string, string>): string {
  const lines = error.issues.map((issue) => {
    const key = issue.path.map(String).join('.') || '(root)';
    // An issue inside a value (docker.upstreams.0.url) names the variable that set the value.
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
    return `  ${key}${from}: ${issue.message}`;
  });
  return `invalid configuration:\n${lines.join('\n')}`;
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
      const child = shape[key];
      const dotted = prefix === '' ? key : `${prefix}.${key}`;
      if (child) return unknownKeys(value, child, dotted);
      const near = closest(key, Object.keys(shape));
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
