/**
 * `nora mirror cargo --lockfile Cargo.lock`: every registry crate a Cargo.lock pins, pulled
 * through the server's sparse index (`/cargo/index/…`, or a named repository's) so its proxy
 * caches the index file and the `.crate`.
 *
 * Cargo.lock (Cargo book, "Cargo.lock"; cargo's `resolve` encoding): TOML with one
 * `[[package]]` table per package (`name`, `version`, `source`, `checksum`). Lock versions 1–4:
 * v1 has no top `version` and keeps checksums in `[metadata]` as
 * `"checksum <name> <version> (<source>)" = "<hex>"`; v2+ put `checksum` in the package; v3 and
 * v4 add `version = 3|4` (v4 changes only how git sources are encoded). Sources: `registry+URL`
 * and `sparse+URL` are registries (fetched here, whichever registry: the server's group serves
 * its hosted crates and crates.io's); `git+URL` crates cannot be served by a registry (skipped,
 * reported); no `source` is a path or workspace member (the project itself, left out).
 */
import type { Command } from 'commander';
import { parse as parseToml } from 'smol-toml';
import { indexPath } from '../formats/cargo/index-file.ts';
import {
  type MirrorFormat,
  type MirrorPlan,
  type MirrorSkip,
  readInputFile,
  repositoryMount,
} from './format.ts';
import { drainVerified, getOk } from './pull.ts';
import { type MirrorClient, MirrorInputError, type MirrorItem } from './types.ts';

/** One package of a Cargo.lock. */
export interface CargoLockPackage {
  readonly name: string;
  readonly version: string;
  /** `registry+…`, `sparse+…`, `git+…`; undefined for path and workspace packages. */
  readonly source: string | undefined;
  /** Lower-case hex SHA-256 of the `.crate` (v1: from `[metadata]`); undefined when none. */
  readonly checksum: string | undefined;
}

/** What a lock file asks the mirror for, and what it leaves out with the reason. */
export interface CargoLockPlan {
  /** The lock file's format version (1 when it has no `version`). */
  readonly version: number;
  /** Registry packages, one per name + version + source, in file order. */
  readonly crates: readonly CargoLockPackage[];
  /** Packages from git: a registry cannot serve them (`reason`: `git source … is not a …`). */
  readonly skipped: readonly MirrorSkip[];
}

const HEX64 = /^[0-9a-f]{64}$/;

/**
 * Parses Cargo.lock text. Throws MirrorInputError (exit 2) for text that is not TOML, has no
 * `[[package]]` list, a package without a string name/version, a checksum that is not 64 hex
 * digits, or a lock version above 4 (a newer Cargo's format, which this reader cannot vouch for).
 */
export function parseCargoLock(text: string): CargoLockPlan {
  let doc: Record<string, unknown>;
  try {
    doc = parseToml(text);
  } catch (err) {
    const first = (err instanceof Error ? err.message : String(err)).split('\n')[0] ?? '';
    throw new MirrorInputError(`not a Cargo.lock (TOML does not parse): ${first}`);
  }
  const version = doc['version'] ?? 1;
  if (typeof version !== 'number' || !Number.isInteger(version) || version < 1 || version > 4) {
    throw new MirrorInputError(
      `Cargo.lock version ${JSON.stringify(version)} is not supported (1 to 4 are)`,
    );
  }
  const packages = doc['package'];
  if (!Array.isArray(packages)) {
    throw new MirrorInputError('not a Cargo.lock: it has no [[package]] tables');
  }
  // v1: `[metadata]` "checksum <name> <version> (<source>)" = "<hex>" ("<none>" for none).
  const metadata = doc['metadata'];
  const v1Checksums = new Map<string, string>();
  if (typeof metadata === 'object' && metadata !== null) {
    for (const [key, value] of Object.entries(metadata as Record<string, unknown>)) {
      const match = /^checksum (\S+) (\S+) \((.+)\)$/.exec(key);
      if (match && typeof value === 'string' && value !== '<none>') {
        v1Checksums.set(`${match[1]} ${match[2]} ${match[3]}`, value);
      }
    }
  }
  const crates: CargoLockPackage[] = [];
  const skipped: MirrorSkip[] = [];
  const seen = new Set<string>();
  packages.forEach((entry: unknown, i) => {
    const table = (typeof entry === 'object' && entry !== null ? entry : {}) as Record<
      string,
      unknown
    >;
    const { name, version: pkgVersion, source, checksum } = table;
    if (typeof name !== 'string' || typeof pkgVersion !== 'string') {
      throw new MirrorInputError(`Cargo.lock [[package]] #${i + 1} has no name or version`);
    }
    if (source !== undefined && typeof source !== 'string') {
      throw new MirrorInputError(
        `Cargo.lock package ${name} ${pkgVersion}: source is not a string`,
      );
    }
    if (source === undefined) return; // the workspace's own packages and path dependencies
    if (!source.startsWith('registry+') && !source.startsWith('sparse+')) {
      skipped.push({
        label: `cargo ${name} ${pkgVersion}`,
        reason: `${source.split('+')[0] ?? source} source ${source.replace(/#.*$/, '')} is not a registry; cargo fetches it itself`,
      });
      return;
    }
    const sum =
      typeof checksum === 'string' ? checksum : v1Checksums.get(`${name} ${pkgVersion} ${source}`);
    if (sum !== undefined && !HEX64.test(sum)) {
      throw new MirrorInputError(
        `Cargo.lock package ${name} ${pkgVersion}: checksum ${JSON.stringify(sum)} is not a SHA-256`,
      );
    }
    const key = `${name} ${pkgVersion} ${source}`;
    if (seen.has(key)) return;
    seen.add(key);
    crates.push({ name, version: pkgVersion, source, checksum: sum });
  });
  return { version, crates, skipped };
}

/** Options of `nora mirror cargo`. */
export interface CargoMirrorOptions {
  /** A named repository (`/repository/<name>/index/`) instead of the `/cargo/` group. */
  readonly repo?: string | undefined;
}

/** Index files are read whole to find one line: the largest on crates.io are a few MB. */
const MAX_INDEX_BYTES = 32 * 1024 * 1024;
const MAX_CONFIG_BYTES = 64 * 1024;

/**
 * The items for a parsed lock file: one per crate, labelled `cargo <name> <version>`. Each reads
 * the crate's index file (once per name per run), finds its version's line, checks its `cksum`
 * against the lock's `checksum`, then downloads the `.crate` from the URL the index's
 * `config.json` `dl` template gives (Cargo book, "Index configuration": `{crate}`, `{version}`,
 * `{prefix}`, `{lowerprefix}`, `{sha256-checksum}`, or `/{crate}/{version}/download` appended),
 * requested through the client's server whatever host `dl` names, and verifies its SHA-256.
 */
export function cargoItems(plan: CargoLockPlan, options: CargoMirrorOptions = {}): MirrorItem[] {
  const index = `${repositoryMount('/cargo', options.repo)}/index`;
  // Per client: the config.json and the index files several versions of one crate share.
  const shared = new WeakMap<MirrorClient, RunCache>();
  const cacheOf = (client: MirrorClient): RunCache => {
    let cache = shared.get(client);
    if (cache === undefined) {
      cache = { config: undefined, files: new Map() };
      shared.set(client, cache);
    }
    return cache;
  };
  return plan.crates.map((crate) => ({
    label: `cargo ${crate.name} ${crate.version}`,
    async fetch(client) {
      const cache = cacheOf(client);
      let bytes = 0;
      if (cache.config === undefined) {
        cache.config = readDl(client, `${index}/config.json`);
        bytes += (await cache.config).bytes;
      }
      const { dl } = await cache.config;
      const filePath = `${index}/${indexPath(crate.name)}`;
      let file = cache.files.get(filePath);
      if (file === undefined) {
        file = readIndexFile(client, filePath);
        cache.files.set(filePath, file);
        bytes += (await file).bytes;
      }
      const cksum = (await file).versions.get(crate.version);
      if (cksum === undefined) {
        throw new Error(`version ${crate.version} is not in ${filePath}`);
      }
      if (crate.checksum !== undefined && cksum !== crate.checksum) {
        throw new Error(
          `checksum mismatch: Cargo.lock pins ${crate.checksum}, ${filePath} says ${cksum}`,
        );
      }
      const download = downloadPath(dl, client.base, crate.name, crate.version, cksum);
      const res = await getOk(client, download);
      const pin = crate.checksum ?? cksum;
      const pinnedBy = crate.checksum === undefined ? filePath : 'Cargo.lock';
      return (
        bytes + (await drainVerified(res, download, [{ algorithm: 'sha256', hex: pin }], pinnedBy))
      );
    },
  }));
}

interface RunCache {
  config: Promise<{ dl: string; bytes: number }> | undefined;
  files: Map<string, Promise<{ versions: Map<string, string>; bytes: number }>>;
}

async function readDl(client: MirrorClient, path: string): Promise<{ dl: string; bytes: number }> {
  const res = await getOk(client, path);
  const text = await res.text(MAX_CONFIG_BYTES);
  let dl: unknown;
  try {
    dl = (JSON.parse(text) as Record<string, unknown>)['dl'];
  } catch {
    throw new Error(`${path} is not JSON`);
  }
  if (typeof dl !== 'string' || dl === '') throw new Error(`${path} has no "dl" URL`);
  return { dl, bytes: Buffer.byteLength(text) };
}

async function readIndexFile(
  client: MirrorClient,
  path: string,
): Promise<{ versions: Map<string, string>; bytes: number }> {
  const res = await getOk(client, path);
  const text = await res.text(MAX_INDEX_BYTES);
  const versions = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    try {
      const entry = JSON.parse(line) as Record<string, unknown>;
      if (typeof entry['vers'] === 'string' && typeof entry['cksum'] === 'string') {
        versions.set(entry['vers'], entry['cksum']);
      }
    } catch {
      throw new Error(`${path} has a line that is not JSON`);
    }
  }
  return { versions, bytes: Buffer.byteLength(text) };
}

/**
 * The server path of a `.crate`: `dl` with its markers replaced (Cargo book, "Index
 * configuration"), as a path on `base` (NORA's `dl` is its own public URL; any other host is
 * still asked through the server, the one the mirror talks to).
 */
export function downloadPath(
  dl: string,
  base: string,
  name: string,
  version: string,
  cksum: string,
): string {
  const lower = indexPath(name).split('/').slice(0, -1).join('/');
  const markers = /\{(crate|version|prefix|lowerprefix|sha256-checksum)\}/;
  const url = markers.test(dl)
    ? dl
        .replaceAll('{crate}', encodeURIComponent(name))
        .replaceAll('{version}', encodeURIComponent(version))
        .replaceAll('{prefix}', prefixOf(name))
        .replaceAll('{lowerprefix}', lower)
        .replaceAll('{sha256-checksum}', cksum)
    : `${dl.replace(/\/+$/, '')}/${encodeURIComponent(name)}/${encodeURIComponent(version)}/download`;
  if (url.startsWith(`${base}/`)) return url.slice(base.length);
  if (url.startsWith('/')) return url;
  try {
    const parsed = new URL(url);
    return `${parsed.pathname}${parsed.search}`;
  } catch {
    throw new Error(`config.json "dl" is not a URL: ${dl}`);
  }
}

/** `{prefix}`: the index directory of the name as written (not lower-cased). */
function prefixOf(name: string): string {
  switch (name.length) {
    case 1:
      return '1';
    case 2:
      return '2';
    case 3:
      return `3/${name.slice(0, 1)}`;
    default:
      return `${name.slice(0, 2)}/${name.slice(2, 4)}`;
  }
}

/** `nora mirror cargo --lockfile Cargo.lock` (run.ts MIRROR_FORMATS). */
export const cargoFormat: MirrorFormat = {
  probe: { path: '/index/config.json', kind: 'a Cargo', mount: '/cargo/' },
  description:
    'crates of a Cargo.lock (v1-v4; registry sources), index file and .crate each, through /cargo/',
  options(command: Command) {
    command.requiredOption('--lockfile <file>', 'the Cargo.lock (- for stdin)');
  },
  async plan(options, context): Promise<MirrorPlan> {
    const plan = parseCargoLock(await readInputFile(options['lockfile'] as string));
    return { items: cargoItems(plan, { repo: context.repo }), skipped: plan.skipped };
  },
};
