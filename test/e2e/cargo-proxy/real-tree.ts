/**
 * Real input for the Cargo proxy e2e tests and bench/cargo: a static sparse-index registry built
 * by bench/cargo/make_tree.py from the crate sources Debian's librust-*-dev packages install
 * (/usr/share/cargo/registry), served by nginx as crates.io's index and static host would be, and
 * a consumer project that depends on every crate of the tree.
 */
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { consumerManifest } from '../../helpers/cargo.ts';
import { runNginx } from '../../helpers/nginx.ts';
import { PROJECT_ROOT, run } from '../../helpers/tools.ts';

export const DEBIAN_CRATES = '/usr/share/cargo/registry';
/** Crates the tests want at least (issue 15: a lockfile of ≥ 100 crates). */
export const MIN_CRATES = 100;

export interface TreeManifest {
  readonly crates: readonly { name: string; vers: string; cksum: string; size: number }[];
  readonly bytes: number;
}

/** A skip reason when Debian's crate sources are missing or too few, else false. */
export async function missingDebianCrates(): Promise<string | false> {
  const entries = await fs.readdir(DEBIAN_CRATES).catch(() => [] as string[]);
  if (entries.length >= MIN_CRATES) return false;
  return `Debian crate sources missing: ${entries.length} under ${DEBIAN_CRATES}, need ${MIN_CRATES} (scripts/install-test-clients.sh installs librust-clap-dev, librust-tokio-dev, …)`;
}

/** Builds the tree (index/, crates/, manifest.json) into `root`, or reuses one made before. */
export async function makeTree(root: string): Promise<TreeManifest> {
  const manifestFile = path.join(root, 'manifest.json');
  const known = await fs.readFile(manifestFile, 'utf8').catch(() => undefined);
  if (known === undefined) {
    await run('python3', [path.join(PROJECT_ROOT, 'bench/cargo/make_tree.py'), root], {
      timeoutMs: 300_000,
    });
  }
  return JSON.parse(await fs.readFile(manifestFile, 'utf8')) as TreeManifest;
}

export interface Nginx {
  readonly url: string;
  /** The sparse index root, `<url>/index/`. */
  readonly index: string;
  readonly child: ChildProcess;
  readonly exited: Promise<unknown>;
  stop(): Promise<void>;
}

/**
 * nginx serving `root` on a free loopback port; writes `<root>/index/config.json` naming that
 * port in `dl` first. nginx's workers drop root's privileges: `root` must be world-readable.
 */
export async function startNginx(dir: string, root: string, workers = 1): Promise<Nginx> {
  const nginx = await runNginx(dir, {
    workers,
    before: (url) =>
      fs.writeFile(
        path.join(root, 'index', 'config.json'),
        JSON.stringify({ dl: `${url}/crates/{crate}/{crate}-{version}.crate` }),
        { mode: 0o644 },
      ),
    http: (listen) => [
      'default_type application/octet-stream;',
      'types { application/json json; application/gzip crate; }',
      'access_log off; sendfile on; tcp_nopush on; keepalive_requests 100000;',
      `server { listen ${listen}; root ${root}; }`,
    ],
    readyPath: '/index/config.json',
    readyStatus: (status) => status === 200,
  });
  return { ...nginx, index: `${nginx.url}/index/` };
}

/**
 * A binary project depending on every crate of the tree (`=version`, default features off, so
 * the lockfile holds each of them and only the optional dependencies the tree's own crates turn
 * on), with crates-io replaced by the sparse registry at `index`.
 */
export async function writeConsumer(
  dir: string,
  manifest: TreeManifest,
  index: string,
): Promise<void> {
  await fs.mkdir(path.join(dir, 'src'), { recursive: true });
  await fs.mkdir(path.join(dir, '.cargo'), { recursive: true });
  await fs.writeFile(path.join(dir, 'src', 'main.rs'), 'fn main() {}\n');
  const deps = manifest.crates.map(
    (c) => `${c.name} = { version = "=${c.vers}", default-features = false }`,
  );
  await fs.writeFile(path.join(dir, 'Cargo.toml'), consumerManifest('consumer', deps));
  await writeSourceReplacement(dir, index);
}

/** `.cargo/config.toml`: crates-io replaced by the sparse registry at `index`. */
export async function writeSourceReplacement(dir: string, index: string): Promise<void> {
  await fs.mkdir(path.join(dir, '.cargo'), { recursive: true });
  await fs.writeFile(
    path.join(dir, '.cargo', 'config.toml'),
    [
      '[source.crates-io]',
      'replace-with = "mirror"',
      '',
      '[source.mirror]',
      `registry = "sparse+${index}"`,
      '',
    ].join('\n'),
  );
}

/** Packages named in a Cargo.lock (the root project included). */
export async function lockedPackages(dir: string): Promise<{ name: string; version: string }[]> {
  const lock = await fs.readFile(path.join(dir, 'Cargo.lock'), 'utf8');
  const found: { name: string; version: string }[] = [];
  for (const block of lock.split('[[package]]').slice(1)) {
    const name = /name = "([^"]+)"/.exec(block)?.[1];
    const version = /version = "([^"]+)"/.exec(block)?.[1];
    if (name !== undefined && version !== undefined) found.push({ name, version });
  }
  return found;
}

/** The `.crate` files Cargo downloaded into `cargoHome` (file name → path). */
export async function downloadedCrates(cargoHome: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const cache = path.join(cargoHome, 'registry', 'cache');
  for (const registry of await fs.readdir(cache).catch(() => [] as string[])) {
    for (const file of await fs.readdir(path.join(cache, registry))) {
      if (file.endsWith('.crate')) out.set(file, path.join(cache, registry, file));
    }
  }
  return out;
}

/** The environment cargo runs in: its own CARGO_HOME, no CARGO_* settings of the machine. */
export function cargoEnv(cargoHome: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith('CARGO_') || k === 'CARGO_HOME') env[k] = v;
  }
  env['CARGO_HOME'] = cargoHome;
  env['CARGO_TERM_COLOR'] = 'never';
  env['CARGO_NET_RETRY'] = '0';
  return { ...env, ...extra };
}
