/**
 * THE parser of OCI URLs. It works on the raw, undecoded path (names contain slashes, so a
 * decoded `%2F` must never become a separator) and returns a typed route or throws NAME_INVALID.
 *
 * `/v2/…` and `/repository/<repo>/v2/…` both end up here; the caller strips the mount and passes
 * the remainder (`<name>/manifests/<ref>`, `_catalog`, …). Names may be any depth and may even
 * contain a component called `blobs` or `manifests`: the operation is matched from the right.
 */
import { RegistryError } from '../../core/errors.ts';
import {
  isValidTag,
  parseDigestString,
  parseName,
  parseReference,
  type Reference,
} from './reference.ts';

export type OciRoute =
  | { readonly kind: 'base' }
  | { readonly kind: 'catalog' }
  | { readonly kind: 'tags'; readonly name: string }
  | { readonly kind: 'manifest'; readonly name: string; readonly reference: Reference }
  /**
   * A manifest reference that is neither a digest nor a valid tag (`.INVALID_MANIFEST_NAME`):
   * no such manifest can exist, so reads answer 404 MANIFEST_UNKNOWN; a PUT is invalid.
   */
  | { readonly kind: 'manifest-invalid-tag'; readonly name: string; readonly tag: string }
  | { readonly kind: 'blob'; readonly name: string; readonly digest: string }
  | { readonly kind: 'uploads'; readonly name: string }
  | { readonly kind: 'upload'; readonly name: string; readonly uuid: string }
  | { readonly kind: 'referrers'; readonly name: string; readonly digest: string };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const PATTERNS: readonly [RegExp, (name: string, last: string) => OciRoute][] = [
  [/^(.+)\/tags\/list$/, (name) => ({ kind: 'tags', name })],
  [
    /^(.+)\/manifests\/([^/]+)$/,
    (name, ref) =>
      ref.includes(':') || isValidTag(ref)
        ? { kind: 'manifest', name, reference: parseReference(ref) }
        : { kind: 'manifest-invalid-tag', name, tag: ref },
  ],
  [/^(.+)\/blobs\/uploads\/?$/, (name) => ({ kind: 'uploads', name })],
  [
    /^(.+)\/blobs\/uploads\/([^/]+)$/,
    (name, uuid) => ({ kind: 'upload', name, uuid: parseUuid(uuid) }),
  ],
  [
    /^(.+)\/blobs\/([^/]+)$/,
    (name, digest) => ({ kind: 'blob', name, digest: parseDigestString(digest) }),
  ],
  [
    /^(.+)\/referrers\/([^/]+)$/,
    (name, digest) => ({ kind: 'referrers', name, digest: parseDigestString(digest) }),
  ],
];

/**
 * Parses what follows `/v2/` (raw, undecoded). Returns undefined for paths that are not OCI
 * routes at all (→ 404); throws NAME_INVALID for anything that tries to smuggle structure.
 */
export function parseOciPath(rest: string): OciRoute | undefined {
  if (rest === '') return { kind: 'base' };
  if (rest === '_catalog') return { kind: 'catalog' };
  if (rest.includes('%') || rest.includes('\0') || rest.includes('\\')) {
    throw nameInvalid('encoded or control characters are not allowed in OCI paths');
  }
  for (const [pattern, build] of PATTERNS) {
    const match = pattern.exec(rest);
    if (match) {
      const name = parseName(match[1] ?? '');
      return build(name, match[2] ?? '');
    }
  }
  return undefined;
}

/** Splits `/v2/<rest>` off a raw path; undefined when the path is not under that mount. */
export function stripMount(raw: string, mount: string): string | undefined {
  if (raw === mount) return '';
  if (!raw.startsWith(`${mount}/`)) return undefined;
  return raw.slice(mount.length + 1);
}

function parseUuid(value: string): string {
  if (!UUID.test(value)) {
    throw new RegistryError('NOT_FOUND', 'unknown upload session', {
      protocolCode: 'BLOB_UPLOAD_UNKNOWN',
    });
  }
  return value;
}

function nameInvalid(message: string): RegistryError {
  return new RegistryError('NAME_INVALID', message, { protocolCode: 'NAME_INVALID' });
}
