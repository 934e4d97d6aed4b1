/**
 * The GOPROXY protocol's URLs ("GOPROXY protocol" in the Go modules reference; `go help
 * goproxy`) and the checksum-database proxy's (`<proxy>/sumdb/<name>/…`, "Checksum database"),
 * parsed from the raw path below a mount into a route. Module paths and versions come out
 * decoded (`!azure` → `Azure`) and checked (module.ts); anything else is a GoPathError (400), a
 * `@v/` file of an invalid version a GoVersionError (404 to a read).
 *
 *   <module>/@v/list                    versions
 *   <module>/@v/<version>.info|.mod|.zip
 *   <module>/@latest
 *   sumdb/<name>/supported              200: this proxy forwards that checksum database
 *   sumdb/<name>/latest                 the signed tree head (short-lived)
 *   sumdb/<name>/lookup/<module>@<version>
 *   sumdb/<name>/tile/<H>/<L>/<K>[.p/<W>], tile/<H>/data/<K>[.p/<W>]
 *
 * A module path's first element must hold a dot, so `sumdb/…` never names a module.
 */
import {
  checkModuleVersion,
  checkVersion,
  GoInputError,
  unescapePath,
  unescapeVersion,
} from './module.ts';

export class GoPathError extends Error {
  override readonly name = 'GoPathError';
}

/**
 * A `<module>/@v/<version>.info|.mod|.zip` whose version is invalid or not canonical (`v9`,
 * `v1.2`, a major the path's suffix refuses). A read of it is a 404 with this reason (routes.ts):
 * only 404/410 let `go` fall through to its next GOPROXY entry, and proxy.golang.org answers such
 * requests 404 too; a write (PUT, DELETE) of it stays a 400.
 */
export class GoVersionError extends GoPathError {}

export type GoFileKind = 'info' | 'mod' | 'zip';

export type GoRoute =
  | { readonly kind: 'list'; readonly module: string }
  | { readonly kind: 'latest'; readonly module: string }
  | {
      readonly kind: GoFileKind;
      readonly module: string;
      readonly version: string;
      /** `.info` of a query that is not a canonical version (`master`): mutable. */
      readonly canonical: boolean;
    }
  | {
      readonly kind: 'sumdb';
      readonly name: string;
      /** The checksum database's own path, without leading slash: `lookup/…`, `tile/…`, `latest`, `supported`. */
      readonly path: string;
      /** For `lookup/`: the decoded module path (private modules are never looked up). */
      readonly module?: string | undefined;
    };

const TILE = /^tile\/\d{1,2}\/(?:data|\d{1,2})(?:\/x\d{3})*\/\d{3}(?:\.p\/\d{1,3})?$/;
const SUMDB_NAME = /^[a-z0-9][a-z0-9.-]*(?::\d+)?$/i;

/**
 * Parses `rest` (the raw, still percent-encoded path after the mount, `/` first).
 * Throws GoPathError with the reason for anything that is not one of the URLs above.
 */
export function parseGoPath(rest: string): GoRoute {
  if (/%2f|%5c|%00/i.test(rest)) throw new GoPathError('encoded separators are not allowed');
  let path: string;
  try {
    path = decodeURIComponent(rest);
  } catch {
    throw new GoPathError('malformed percent-encoding');
  }
  if (path.startsWith('/')) path = path.slice(1);
  if (path.includes('\\') || path.split('/').some((s) => s === '.' || s === '..')) {
    throw new GoPathError('invalid path');
  }
  try {
    return parseDecoded(path);
  } catch (err) {
    if (err instanceof GoInputError) throw new GoPathError(err.message);
    throw err;
  }
}

function parseDecoded(path: string): GoRoute {
  if (path.startsWith('sumdb/')) return parseSumdb(path.slice('sumdb/'.length));
  if (path.endsWith('/@latest')) {
    return { kind: 'latest', module: unescapePath(path.slice(0, -'/@latest'.length)) };
  }
  const at = path.lastIndexOf('/@v/');
  if (at <= 0) throw new GoPathError(`not a module proxy URL: /${path}`);
  const module = unescapePath(path.slice(0, at));
  const file = path.slice(at + '/@v/'.length);
  if (file === 'list') return { kind: 'list', module };
  const dot = file.lastIndexOf('.');
  const ext = dot < 0 ? '' : file.slice(dot + 1);
  if (ext !== 'info' && ext !== 'mod' && ext !== 'zip') {
    throw new GoPathError(`not a module proxy URL: /${path}`);
  }
  let version: string;
  try {
    version = unescapeVersion(file.slice(0, dot));
  } catch (err) {
    if (err instanceof GoInputError) throw new GoVersionError(err.message);
    throw err;
  }
  const invalid = checkVersion(version);
  if (invalid !== undefined) {
    // `go` asks `.info` of queries (branches, commit prefixes); `.mod`/`.zip` only of versions.
    if (ext !== 'info' || version === '' || version.includes('/')) {
      throw new GoVersionError(invalid);
    }
    return { kind: 'info', module, version, canonical: false };
  }
  const mismatch = checkModuleVersion(module, version);
  if (mismatch !== undefined) throw new GoVersionError(mismatch);
  return { kind: ext, module, version, canonical: true };
}

function parseSumdb(rest: string): GoRoute {
  const slash = rest.indexOf('/');
  if (slash <= 0) throw new GoPathError('expected sumdb/<name>/<path>');
  const name = rest.slice(0, slash);
  const path = rest.slice(slash + 1);
  if (!SUMDB_NAME.test(name)) throw new GoPathError(`invalid checksum database name "${name}"`);
  if (path === 'supported' || path === 'latest') return { kind: 'sumdb', name, path };
  if (path.startsWith('lookup/')) {
    const target = path.slice('lookup/'.length);
    const at = target.lastIndexOf('@');
    if (at <= 0) throw new GoPathError('expected lookup/<module>@<version>');
    const module = unescapePath(target.slice(0, at));
    const version = unescapeVersion(target.slice(at + 1));
    const invalid = checkVersion(version);
    if (invalid !== undefined) throw new GoPathError(invalid);
    return { kind: 'sumdb', name, path, module };
  }
  if (TILE.test(path)) return { kind: 'sumdb', name, path };
  throw new GoPathError(`not a checksum database URL: sumdb/${rest}`);
}
