/**
 * URL grammar of the npm registry API, parsed from the undecoded path below a repository's mount.
 * Names arrive as `name`, `@scope%2fname` (npm) or `@scope/name` (yarn, pnpm, tarball URLs).
 */
import { RegistryError } from '../../core/errors.ts';
import { checkName } from './names.ts';
import type { UnsupportedCommand } from './unsupported.ts';

export type NpmRoute =
  | { readonly kind: 'ping' }
  | { readonly kind: 'whoami' }
  | { readonly kind: 'web-login'; readonly step: 'start' | 'done' | 'open' }
  | { readonly kind: 'user'; readonly user: string }
  | { readonly kind: 'logout'; readonly token: string }
  | { readonly kind: 'tokens' }
  | { readonly kind: 'token'; readonly key: string }
  | { readonly kind: 'search' }
  | { readonly kind: 'audit'; readonly endpoint: 'advisories/bulk' | 'audits/quick' | 'audits' }
  | { readonly kind: 'dist-tags'; readonly name: string; readonly tag: string | undefined }
  | { readonly kind: 'packument'; readonly name: string; readonly rev: string | undefined }
  | {
      readonly kind: 'tarball';
      readonly name: string;
      readonly filename: string;
      readonly rev: string | undefined;
    }
  | { readonly kind: 'version'; readonly name: string; readonly spec: string }
  /** An endpoint of an npm command NORA does not implement (unsupported.ts). */
  | { readonly kind: 'unsupported'; readonly command: UnsupportedCommand };

function decode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new RegistryError('BAD_REQUEST', 'malformed percent-encoding in request path');
  }
}

/**
 * Whether a request (`method`, `rest` below the mount, as parseNpmPath takes it) proves who it is
 * by its own content, so the `Authorization` header is not read (http/hooks.ts, route config
 * `ownCredentials`): npm login's `PUT /-/user/org.couchdb.user:<name>` (the body's password) and
 * npm logout's `DELETE /-/user/token/<token>` (the token in the path). npm sends whatever token
 * its config holds with both: a stale one (the anonymous token saved while auth was off, a
 * revoked one) would otherwise fail the login with 401 and keep npm from ever dropping it, and
 * another user's valid token must not decide who logs in (accounts.ts, login and logout).
 */
export function credentialsInRequest(method: string, rest: string): boolean {
  if (method === 'PUT') return /^\/-\/user\/org\.couchdb\.user:[^/]+$/.test(rest);
  if (method === 'DELETE') return /^\/-\/user\/token\/[^/]+$/.test(rest);
  return false;
}

/** `rest` is the path below the mount, starting with `/` (or empty). */
export function parseNpmPath(rest: string): NpmRoute {
  const segments = rest.split('/').slice(1);
  if (segments.length === 0 || segments[0] === '') {
    // `/npm//is-odd` (a doubled slash) would otherwise be a bare "not found".
    throw segments.length > 1
      ? new RegistryError(
          'NOT_FOUND',
          `not found: ${rest} (an empty path segment: a doubled slash?)`,
        )
      : notFound(rest);
  }
  try {
    return parseNamed(segments);
  } catch (err) {
    // The grammar's misses name the path they could not place.
    if (err instanceof PathMiss) throw notFound(rest);
    throw err;
  }
}

function parseNamed(segments: string[]): NpmRoute {
  if (segments[0] === '-') return parseSpecial(segments.slice(1));

  let name: string;
  let tail: string[];
  const first = segments[0] ?? '';
  if (first.startsWith('@') && !/%2f/i.test(first)) {
    if (segments.length < 2 || segments[1] === '') throw miss();
    name = `${decode(first)}/${decode(segments[1] ?? '')}`;
    tail = segments.slice(2);
  } else {
    name = decode(first);
    tail = segments.slice(1);
  }
  checkName(name);
  if (tail.length === 0 || (tail.length === 1 && tail[0] === '')) {
    return { kind: 'packument', name, rev: undefined };
  }
  if (tail[0] === '-rev' && tail.length === 2) {
    return { kind: 'packument', name, rev: decode(tail[1] ?? '') };
  }
  if (tail[0] === '-' && tail.length >= 2) {
    const filename = decode(tail[1] ?? '');
    if (tail.length === 2) return { kind: 'tarball', name, filename, rev: undefined };
    if (tail.length === 4 && tail[2] === '-rev') {
      return { kind: 'tarball', name, filename, rev: decode(tail[3] ?? '') };
    }
    throw miss();
  }
  if (tail.length === 1) return { kind: 'version', name, spec: decode(tail[0] ?? '') };
  throw miss();
}

function parseSpecial(parts: string[]): NpmRoute {
  const joined = parts.join('/');
  if (joined === 'ping') return { kind: 'ping' };
  if (joined === 'whoami') return { kind: 'whoami' };
  if (joined === 'v1/login') return { kind: 'web-login', step: 'start' };
  if (joined === 'v1/login/done') return { kind: 'web-login', step: 'done' };
  if (joined === 'v1/login/open') return { kind: 'web-login', step: 'open' };
  if (joined === 'v1/search') return { kind: 'search' };
  if (joined === 'npm/v1/tokens') return { kind: 'tokens' };
  if (parts.length === 5 && joined.startsWith('npm/v1/tokens/token/')) {
    return { kind: 'token', key: decode(parts[4] ?? '') };
  }
  if (joined === 'npm/v1/security/advisories/bulk')
    return { kind: 'audit', endpoint: 'advisories/bulk' };
  if (joined === 'npm/v1/security/audits/quick') return { kind: 'audit', endpoint: 'audits/quick' };
  if (joined === 'npm/v1/security/audits') return { kind: 'audit', endpoint: 'audits' };
  if (parts[0] === 'user' && parts.length === 2 && parts[1]?.startsWith('org.couchdb.user:')) {
    const user = decode(parts[1].slice('org.couchdb.user:'.length));
    if (user === '') throw new RegistryError('BAD_REQUEST', 'missing user name');
    return { kind: 'user', user };
  }
  if (parts[0] === 'user' && parts[1] === 'token' && parts.length === 3) {
    return { kind: 'logout', token: decode(parts[2] ?? '') };
  }
  const unsupported = unsupportedEndpoint(parts);
  if (unsupported !== undefined) return { kind: 'unsupported', command: unsupported };
  if (parts[0] === 'package' && parts.length >= 3) {
    // /-/package/<name>/dist-tags[/<tag>] with name either %2f-encoded or split in two segments.
    const rest = parts.slice(1);
    const index = rest.indexOf('dist-tags');
    if (index === 1 || index === 2) {
      const name = checkName(rest.slice(0, index).map(decode).join('/'));
      const after = rest.slice(index + 1);
      if (after.length === 0 || (after.length === 1 && after[0] === '')) {
        return { kind: 'dist-tags', name, tag: undefined };
      }
      if (after.length === 1) return { kind: 'dist-tags', name, tag: decode(after[0] ?? '') };
    }
  }
  throw miss();
}

/**
 * The npm command whose endpoint `/-/<parts>` is, among those NORA does not implement:
 * `npm profile` (`/-/npm/v1/user`), `npm hook` (`/-/npm/v1/hooks…`), `npm access`
 * (`/-/{org,user}/<name>/package`, `/-/team/<scope>/<team>/package`,
 * `/-/package/<name>/{collaborators,visibility,access}`), `npm org` (`/-/org/…`), `npm team`
 * (`/-/team/…`), `npm trust` (`/-/package/<name>/trust…`),
 * `npm stars` (`/-/_view/starredByUser`). Undefined for any other path.
 */
function unsupportedEndpoint(parts: readonly string[]): UnsupportedCommand | undefined {
  const [first, second, third] = parts;
  if (first === 'npm' && second === 'v1') {
    if (third === 'user' && parts.length === 3) return 'profile';
    if (third === 'hooks') return 'hook';
    return undefined;
  }
  // `npm access list packages` asks /-/org/<scope>/package, then /-/user/<name>/package;
  // `npm access grant/revoke` and `list packages <scope:team>` use /-/team/<scope>/<team>/package.
  if ((first === 'user' || first === 'org' || first === 'team') && parts.at(-1) === 'package')
    return parts.length >= 3 ? 'access' : undefined;
  if (first === 'org') return 'org';
  if (first === 'team') return 'team';
  if (first === '_view' && second === 'starredByUser') return 'star';
  if (first === 'package' && parts.length >= 3) {
    // /-/package/<name>/<what>[/…], the name %2f-encoded or in two segments.
    const at = parts.findIndex(
      (part, i) => i >= 2 && ['collaborators', 'visibility', 'access', 'trust'].includes(part),
    );
    if (at === 2 || (at === 3 && (parts[1] ?? '').startsWith('@'))) {
      return parts[at] === 'trust' ? 'trust' : 'access';
    }
  }
  return undefined;
}

/** A path the grammar cannot place: parseNpmPath answers it as a 404 naming the path. */
class PathMiss extends Error {}

function miss(): PathMiss {
  return new PathMiss('not found');
}

function notFound(rest: string): RegistryError {
  return new RegistryError('NOT_FOUND', `not found: ${rest || '/'}`);
}
