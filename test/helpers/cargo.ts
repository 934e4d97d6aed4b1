/**
 * The real `cargo` in e2e tests: whether it is here (the skip reason when not), a CARGO_HOME
 * whose `config.toml` names a NORA as the sparse registry `nora`, and the environment cargo
 * runs in (that home, no token or wrapper of the machine's).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { findTool } from './tools.ts';

/** The cargo command; undefined when neither cargo nor rustup is installed. */
export const CARGO = findTool('cargo') ?? (findTool('rustup') === undefined ? undefined : 'cargo');

/** The skip reason when cargo or rustc is missing, else false. */
export const missingCargo: string | false =
  CARGO === undefined || findTool('rustc') === undefined
    ? 'client not installed: cargo/rustc (install a Rust toolchain, e.g. rustup)'
    : false;

/**
 * Writes `<home>/config.toml` naming `<serverUrl>/cargo/index/` (or `indexPath` under it) as
 * the sparse registry `nora`, credentials from cargo's own token provider, no retries (a
 * refusal shows at once).
 */
export async function writeCargoHome(
  home: string,
  serverUrl: string,
  indexPath = '/cargo/index/',
): Promise<void> {
  await fs.mkdir(home, { recursive: true });
  await fs.writeFile(
    path.join(home, 'config.toml'),
    [
      '[registries.nora]',
      `index = "sparse+${serverUrl}${indexPath}"`,
      'credential-provider = "cargo:token"',
      '',
      '[net]',
      'retry = 0',
      '',
    ].join('\n'),
  );
}

/**
 * The environment for cargo with `home` as CARGO_HOME and `work`/target as its target dir; with
 * `token`, the `nora` registry's token. The machine's own CARGO_REGISTRY_TOKEN and
 * RUSTC_WRAPPER are left out.
 */
export function cargoEnv(home: string, work: string, token?: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    CARGO_HOME: home,
    CARGO_TARGET_DIR: path.join(work, 'target'),
    CARGO_TERM_COLOR: 'never',
    CARGO_HTTP_TIMEOUT: '60',
  };
  delete env['CARGO_REGISTRY_TOKEN'];
  delete env['RUSTC_WRAPPER'];
  if (token !== undefined) env['CARGO_REGISTRIES_NORA_TOKEN'] = token;
  return env;
}

/** Writes `files` (relative path → content) under `dir`, creating folders: a crate's tree. */
export async function writeCrateFiles(dir: string, files: Record<string, string>): Promise<void> {
  for (const [name, content] of Object.entries(files)) {
    await fs.mkdir(path.dirname(path.join(dir, name)), { recursive: true });
    await fs.writeFile(path.join(dir, name), content);
  }
}

/**
 * A Cargo.toml publishable to the `nora` registry only: `deps` as the [dependencies] lines,
 * `extra` as more [package] lines (`readme = false`). Keyword `noratest`, for search tests.
 */
export function crateManifest(name: string, version: string, deps = '', extra = ''): string {
  return [
    '[package]',
    `name = "${name}"`,
    `version = "${version}"`,
    'edition = "2021"',
    `description = "NORA e2e crate ${name}"`,
    'license = "MIT"',
    'keywords = ["noratest"]',
    'publish = ["nora"]',
    extra,
    '',
    '[dependencies]',
    deps,
    '',
  ].join('\n');
}

/**
 * A Cargo.toml of a crate that only consumes: package `name` 0.1.0 (never published), `deps` as
 * its [dependencies] lines.
 */
export function consumerManifest(name: string, deps: readonly string[]): string {
  return [
    '[package]',
    `name = "${name}"`,
    'version = "0.1.0"',
    'edition = "2021"',
    '',
    '[dependencies]',
    ...deps,
    '',
  ].join('\n');
}
