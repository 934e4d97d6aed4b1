/**
 * What npm's registry derives from a tarball at publish time rather than copying from the
 * manifest: whether it ships `npm-shrinkwrap.json` (`_hasShrinkwrap`, which tells installers to
 * use it), whether it has `binding.gyp` (an implicit `node-gyp rebuild` install script →
 * `hasInstallScript`), and `dist.fileCount` / `dist.unpackedSize`.
 *
 * The tarball is read as a stream through gunzip and tar-stream, never held in memory, and the
 * work is bounded: at most MAX_ENTRIES entries and MAX_UNPACKED_BYTES of decompressed data
 * (a gzip bomb stops there). Past a bound the facts are unknown (undefined) and the publish goes
 * on without them: clients treat a missing `_hasShrinkwrap` as "look for yourself". A corrupt
 * archive (not gzip, truncated, not a tar, no entry) is refused at publish (inspectTarball), before
 * its bytes are stored: npm would fail on it at every install.
 */
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import tar from 'tar-stream';
import type { Json } from './store.ts';

export const MAX_ENTRIES = 100_000;
export const MAX_UNPACKED_BYTES = 1024 * 1024 * 1024;

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
 * What a read of a gzipped npm tarball found: its facts; `unbounded` when it is past MAX_ENTRIES
 * or MAX_UNPACKED_BYTES (not read to its end: neither known good nor corrupt); `corrupt` with a
 * reason when gunzip or the tar reader failed (bad or truncated gzip, CRC mismatch, bad tar
 * header, a tar cut short) or the archive holds no entry. Never throws for bad content;
 * `source` is always consumed or destroyed.
 */
export async function inspectTarball(
  source: Readable,
): Promise<
  | { readonly kind: 'facts'; readonly facts: TarballFacts }
  | { readonly kind: 'unbounded' }
  | { readonly kind: 'corrupt'; readonly reason: string }
> {
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
    if (progress.unpacked > MAX_UNPACKED_BYTES) {
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
  try {
    for await (const entry of extract) {
      entries++;
      if (entries > MAX_ENTRIES) {
        stop();
        return { kind: 'unbounded' };
      }
      const { type, size, name } = entry.header;
      if (type === 'file' || type === 'contiguous-file') {
        fileCount++;
        unpackedSize += size;
        // npm reads the archive's first directory as the package root, whatever its name.
        const parts = name.replace(/^\.\//, '').split('/');
        if (parts.length === 2) {
          if (parts[1] === 'npm-shrinkwrap.json') hasShrinkwrap = true;
          if (parts[1] === 'binding.gyp') hasBindingGyp = true;
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
  return { kind: 'facts', facts: { hasShrinkwrap, hasBindingGyp, fileCount, unpackedSize } };
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
