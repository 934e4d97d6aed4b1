/**
 * Packument rendering: the full document and the abbreviated ("corgi") one installers ask for
 * with `Accept: application/vnd.npm.install-v1+json`. Tarball URLs are always built from our own
 * base URL and the repository's mount, never copied from where the data came from.
 */
import type { Json } from './store.ts';
import { namePath } from './names.ts';
import { hasInstallScript } from './tarball-facts.ts';

export const ABBREVIATED_TYPE = 'application/vnd.npm.install-v1+json';

export type PackumentForm = 'full' | 'abbreviated';

export interface VersionView {
  readonly version: string;
  readonly manifest: Json;
  readonly filename: string;
  readonly integrity: string | undefined;
  readonly shasum: string | undefined;
  /** ISO date, or undefined when unknown. */
  readonly time: string | undefined;
  readonly deprecated: string | undefined;
}

export interface PackageView {
  readonly name: string;
  readonly rev: string;
  readonly tags: Readonly<Record<string, string>>;
  readonly versions: readonly VersionView[];
  readonly created: string | undefined;
  readonly modified: string | undefined;
  /** Package-level fields for the full form (description, readme, maintainers, …). */
  readonly meta: Json;
}

/** Fields of a version manifest kept in the abbreviated form (npm's install-v1 list). */
const ABBREVIATED_FIELDS = [
  'name',
  'version',
  'deprecated',
  'dependencies',
  'optionalDependencies',
  'devDependencies',
  'bundleDependencies',
  'bundledDependencies',
  'peerDependencies',
  'peerDependenciesMeta',
  'acceptDependencies',
  'bin',
  'directories',
  'engines',
  'cpu',
  'os',
  'libc',
  'funding',
  '_hasShrinkwrap',
  'hasInstallScript',
] as const;

export function wantsAbbreviated(accept: string | undefined): boolean {
  return accept !== undefined && accept.includes(ABBREVIATED_TYPE);
}

/** `<base><mount>/<name>/-/<file>`; `mountUrl` has no trailing slash. */
export function tarballUrl(mountUrl: string, name: string, filename: string): string {
  return `${mountUrl}/${namePath(name)}/-/${encodeURIComponent(filename)}`;
}

function dist(view: VersionView, mountUrl: string, name: string, original: unknown): Json {
  const base: Json =
    typeof original === 'object' && original !== null ? { ...(original as Json) } : {};
  if (view.integrity !== undefined) base['integrity'] = view.integrity;
  else delete base['integrity'];
  if (view.shasum !== undefined) base['shasum'] = view.shasum;
  base['tarball'] = tarballUrl(mountUrl, name, view.filename);
  return base;
}

/**
 * `doc` (a copy: changed in place) with an `email` on every person of `maintainers` and on
 * `_npmUser` that has a name but none: the publisher's stored e-mail is recorded at publish when
 * the user has one, an htpasswd user has none, and npm prints each maintainer as
 * `${name} <${email}>` (`npm owner ls` said `alice <undefined>`; tenth trial F6). The empty
 * string is what Verdaccio sends for an unknown address: `npm owner ls` prints `alice <>`,
 * `npm view` just `alice`.
 */
function withEmails(doc: Json): Json {
  const person = (value: unknown): unknown =>
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    typeof (value as Json)['name'] === 'string' &&
    typeof (value as Json)['email'] !== 'string'
      ? { ...(value as Json), email: '' }
      : value;
  if (Array.isArray(doc['maintainers'])) doc['maintainers'] = doc['maintainers'].map(person);
  if (doc['_npmUser'] !== undefined) doc['_npmUser'] = person(doc['_npmUser']);
  return doc;
}

export function renderPackument(view: PackageView, form: PackumentForm, mountUrl: string): Json {
  const versions: Json = {};
  const time: Json = {};
  if (view.created !== undefined) time['created'] = view.created;
  if (view.modified !== undefined) time['modified'] = view.modified;
  for (const v of view.versions) {
    let manifest: Json;
    if (form === 'abbreviated') {
      manifest = {};
      for (const field of ABBREVIATED_FIELDS) {
        const value = v.manifest[field];
        if (value !== undefined) manifest[field] = value;
      }
      // Derived by npm's registry, not copied: versions stored before it was derived at publish,
      // and upstream full documents (which may lack it), get it from their scripts/gypfile.
      if (manifest['hasInstallScript'] !== true && hasInstallScript(v.manifest))
        manifest['hasInstallScript'] = true;
    } else {
      manifest = withEmails({ ...v.manifest });
    }
    if (v.deprecated !== undefined && v.deprecated !== '') manifest['deprecated'] = v.deprecated;
    else delete manifest['deprecated'];
    manifest['dist'] = dist(v, mountUrl, view.name, v.manifest['dist']);
    versions[v.version] = manifest;
    if (v.time !== undefined) time[v.version] = v.time;
  }
  if (form === 'abbreviated') {
    // `time` is not in npm's abbreviated form, but pnpm needs it (time-based resolution) and
    // yarn berry's age gate reads it: Verdaccio added it for the same reason.
    return {
      name: view.name,
      modified: view.modified,
      'dist-tags': view.tags,
      versions,
      time,
    };
  }
  return {
    _id: view.name,
    _rev: view.rev,
    name: view.name,
    ...withEmails({ ...view.meta }),
    'dist-tags': view.tags,
    versions,
    time,
  };
}
