/**
 * What npm's registry derives from a tarball at publish time rather than copying from the
 * manifest: whether it ships `npm-shrinkwrap.json` (`_hasShrinkwrap`, which tells installers to
 * use it), whether it has `binding.gyp` (an implicit `node-gyp rebuild` install script →
 * `hasInstallScript`), and `dist.fileCount` / `dist.unpackedSize`; and the name and version of
 * every `package.json` at the archive's root, which the publish compares with its manifest
 * (publish.ts `checkTarballIdentity`: "manifest confusion").
 *
 * The tarball is read as a stream through gunzip and tar-stream, never held in memory (a root
 * `package.json` is kept while it is parsed, at most MAX_PACKAGE_JSON_BYTES), and the work is
 * bounded: at most MAX_ENTRIES entries and `unpackedLimit(size)` decompressed bytes (a gzip bomb
 * stops there). Past a bound the read stops (`unbounded`): neither facts nor the package.json
 * names are known. A corrupt archive (not gzip, truncated, not a tar, no entry) is refused at
 * publish (inspectTarball), before its bytes are stored: npm would fail on it at every install.
 */
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import tar from 'tar-stream';
import type { Json } from './store.ts';

export const MAX_ENTRIES = 100_000;
/** Decompressed bytes always allowed, whatever the ratio. */
export const MAX_UNPACKED_BYTES = 1024 * 1024 * 1024;
/** Decompressed bytes per tarball byte past MAX_UNPACKED_BYTES (PyPI's bound, Warehouse's 50). */
export const MAX_RATIO = 50;
/** A root `package.json` larger than this is not read (`{ problem }`): manifests are KiBs. */
export const MAX_PACKAGE_JSON_BYTES = 16 * 1024 * 1024;

/**
 * Decompressed bytes a tarball of `size` bytes may hold: max(1 GiB, 50 × size). A real package
 * inflates a few times its size, so only a gzip bomb reaches it; the cost of a read stays
 * proportional to the body the client sent.
 */
export function unpackedLimit(size: number | undefined): number {
  return Math.max(MAX_UNPACKED_BYTES, (size ?? 0) * MAX_RATIO);
}

/**
 * One `package.json` at the archive's root (`<root>/package.json`, whatever the root folder is
 * called: npm strips the first path segment when it extracts), as found: its `name` and `version`
 * (any JSON type; undefined when absent), or why it could not be read.
 */
export type RootPackageJson =
  { readonly name: unknown; readonly version: unknown } | { readonly problem: string };

export interface TarballFacts {
  readonly hasShrinkwrap: boolean;
  readonly hasBindingGyp: boolean;
  /** Regular files in the archive (directories and links excluded). */
  readonly fileCount: number;
  /** Sum of the regular files' sizes in bytes. */
  readonly unpackedSize: number;
}

/**
 * Reads a gzipped npm tarball and returns its facts, or undefined when the archive is corrupt
 * or exceeds the bounds. Never throws for bad content; `source` is always consumed or destroyed.
 */
export async function tarballFacts(source: Readable): Promise<TarballFacts | undefined> {
  const inspected = await inspectTarball(source);
  return inspected.kind === 'facts' ? inspected.facts : undefined;
}

/**
 * What a read of a gzipped npm tarball (`size` bytes, for the decompression bound; unknown: 1 GiB)
 * found: its facts and its root `package.json` files, in archive order (several when the archive
 * holds several root folders or repeats the entry: npm extracts them all, the last one wins);
 * `unbounded` when it is past MAX_ENTRIES or `unpackedLimit(size)` (not read to its end: neither
 * known good nor corrupt); `corrupt` with a reason when gunzip or the tar reader failed (bad or
 * truncated gzip, CRC mismatch, bad tar header, a tar cut short) or the archive holds no entry.
 * Never throws for bad content; `source` is always consumed or destroyed.
 */
export async function inspectTarball(
  source: Readable,
  size?: number,
): Promise<
  | {
      readonly kind: 'facts';
      readonly facts: TarballFacts;
      readonly packageJsons: readonly RootPackageJson[];
    }
  | { readonly kind: 'unbounded' }
  | { readonly kind: 'corrupt'; readonly reason: string }
> {
  const limit = unpackedLimit(size);
  const gunzip = createGunzip();
  const extract = tar.extract();
  // An object, not `let`s: the gunzip listener sets them, which flow analysis cannot see.
  const progress = { unpacked: 0, overflow: false };
  const stop = () => {
    source.destroy();
    gunzip.destroy();
    extract.destroy();
  };
  source.on('error', () => {
    gunzip.destroy();
  });
  gunzip.on('error', (err: Error) => {
    extract.destroy(new Error(`not a valid gzip stream (${err.message})`));
  });
  gunzip.on('data', (chunk: Buffer) => {
    progress.unpacked += chunk.length;
    if (progress.unpacked > limit) {
      progress.overflow = true;
      stop();
    }
  });
  source.pipe(gunzip).pipe(extract);
  let entries = 0;
  let fileCount = 0;
  let unpackedSize = 0;
  let hasShrinkwrap = false;
  let hasBindingGyp = false;
  const packageJsons: RootPackageJson[] = [];
  try {
    for await (const entry of extract) {
      entries++;
      if (entries > MAX_ENTRIES) {
        stop();
        return { kind: 'unbounded' };
      }
      const { type, size: fileSize, name } = entry.header;
      if (type === 'file' || type === 'contiguous-file') {
        fileCount++;
        unpackedSize += fileSize;
        // npm extracts with the first path segment stripped (the package root, whatever its
        // name), and its tar reader skips empty and `.` segments: `package//package.json` and
        // `./x/./package.json` land where `package/package.json` does.
        const parts = name.split('/').filter((part) => part !== '' && part !== '.');
        if (parts.length === 2) {
          if (parts[1] === 'npm-shrinkwrap.json') hasShrinkwrap = true;
          if (parts[1] === 'binding.gyp') hasBindingGyp = true;
          if (parts[1] === 'package.json') {
            if (fileSize <= MAX_PACKAGE_JSON_BYTES) {
              packageJsons.push(await readPackageJson(entry));
              continue;
            }
            packageJsons.push({
              problem: `it is larger than ${MAX_PACKAGE_JSON_BYTES / 1024 / 1024} MiB`,
            });
          }
        }
      }
      entry.resume();
    }
  } catch (err) {
    stop();
    if (progress.overflow) return { kind: 'unbounded' };
    return { kind: 'corrupt', reason: err instanceof Error ? err.message : String(err) };
  }
  if (progress.overflow) return { kind: 'unbounded' };
  if (entries === 0) return { kind: 'corrupt', reason: 'the archive holds no file' };
  return {
    kind: 'facts',
    facts: { hasShrinkwrap, hasBindingGyp, fileCount, unpackedSize },
    packageJsons,
  };
}

/**
 * The name and version of a root `package.json` entry (at most MAX_PACKAGE_JSON_BYTES, which the
 * caller checked on its header: tar-stream holds an entry to its header's size). Consumes it.
 */
async function readPackageJson(entry: AsyncIterable<unknown>): Promise<RootPackageJson> {
  const chunks: Buffer[] = [];
  for await (const chunk of entry) chunks.push(chunk as Buffer);
  let doc: unknown;
  try {
    // npm reads the file with a byte-order mark stripped.
    doc = JSON.parse(
      Buffer.concat(chunks)
        .toString('utf8')
        .replace(/^\uFEFF/, ''),
    );
  } catch {
    return { problem: 'it is not valid JSON' };
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    return { problem: 'it is not a JSON object' };
  }
  const record = doc as Json;
  return { name: record['name'], version: record['version'] };
}

const INSTALL_SCRIPTS = ['preinstall', 'install', 'postinstall'] as const;

/**
 * npm's `hasInstallScript`: a preinstall/install/postinstall script, or `binding.gyp` without
 * an install/preinstall script (npm then runs `node-gyp rebuild`; `gypfile: true` in a
 * manifest says the same, and `gypfile: false` turns it off). `hasBindingGyp` is undefined when
 * the tarball was not inspected.
 */
export function hasInstallScript(manifest: Json, hasBindingGyp?: boolean): boolean {
  const scripts =
    typeof manifest['scripts'] === 'object' && manifest['scripts'] !== null
      ? (manifest['scripts'] as Json)
      : {};
  if (INSTALL_SCRIPTS.some((s) => typeof scripts[s] === 'string' && scripts[s] !== '')) return true;
  const gyp =
    manifest['gypfile'] === true || (hasBindingGyp === true && manifest['gypfile'] !== false);
  return gyp && scripts['install'] === undefined && scripts['preinstall'] === undefined;
}

/**
 * The manifest with the derived fields npm's registry adds at publish: `_hasShrinkwrap`,
 * `hasInstallScript` (only when true, as npm does), `dist.fileCount`, `dist.unpackedSize`.
 * Without facts only `hasInstallScript` is derived (from the scripts).
 */
export function withDerivedFields(manifest: Json, facts: TarballFacts | undefined): Json {
  const out: Json = { ...manifest };
  delete out['hasInstallScript'];
  if (hasInstallScript(manifest, facts?.hasBindingGyp)) out['hasInstallScript'] = true;
  if (facts) {
    out['_hasShrinkwrap'] = facts.hasShrinkwrap;
    const dist =
      typeof manifest['dist'] === 'object' && manifest['dist'] !== null
        ? { ...(manifest['dist'] as Json) }
        : {};
    dist['fileCount'] = facts.fileCount;
    dist['unpackedSize'] = facts.unpackedSize;
    out['dist'] = dist;
  } else {
    delete out['_hasShrinkwrap'];
  }
  return out;
}
