/**
 * Requests for `/repository/<name>/…` where no repository has that name. Named repositories are
 * often called after teams or customers, so such names must not be enumerable: a caller who may
 * not read a repository of that name, if there were one, gets the refusal a closed repository
 * gives (401 to anonymous when anonymous reads are off), not a 404 saying there is none (the
 * thirteenth trial's F10). Whether it may is asked of the access rules with a stand-in
 * repository of the name (`standIn`), so `[[auth.rules]]` globs and anonymous settings decide
 * as they would for a real one; only a caller who may read gets the 404 naming the mistake.
 *
 * Either answer is written in the error format of the protocol the rest of the path has (a pip
 * reading `/repository/x/simple/` gets PyPI's plain text, not JSON), guessed from its shape
 * (`protocolOf`), with that protocol's challenge on a 401, and the refusal names what the
 * protocol's own refusal would (the package, file or module path), so a probe cannot tell the
 * two apart by status, format or wording.
 */
import type { RegistryError } from '../core/errors.ts';
import type { FormatName } from '../config/schema.ts';
import { toRepository, type Repository } from '../repos/repository.ts';
import { BASIC_CHALLENGE } from './format-errors.ts';

/** How a protocol's errors look on the wire. */
export type ErrorShape = 'text' | 'npm' | 'cargo' | 'helm' | 'oci';

/** The protocol a path below `/repository/<name>` speaks, and the path its access check uses. */
export interface GuessedProtocol {
  readonly format: FormatName;
  readonly shape: ErrorShape;
  /** The rule path the format would check (a package, project, file, module), if any. */
  readonly path: string | undefined;
  /**
   * OCI only: what the Bearer challenge's scope names (`image`: `repository:<name>/<image>:…`;
   * `catalog`: `registry:catalog:*`; neither for `/v2/` itself, whose refusal is the bare
   * "authentication required").
   */
  readonly oci?:
    { readonly image?: string | undefined; readonly catalog?: boolean | undefined } | undefined;
}

/** The OCI API's path segments after an image name. */
const OCI_OPERATIONS = new Set(['manifests', 'blobs', 'tags', 'referrers']);

const MAVEN_FILE = /\.(?:pom|jar|war|aar|module|asc|sha1|sha256|sha512|md5)$|maven-metadata\.xml/;

/**
 * The protocol of `rest` (the raw path after `/repository/<name>`, starting with `/` or empty),
 * by the shape of its paths: `/v2…` OCI; `/simple/…`, `/pypi/…` PyPI; `/-/…`, `@scope` or one
 * segment npm; `/config.json`, `/api/v1/crates…` Cargo; `/index.yaml`, `/api/charts…` Helm;
 * `/@v/`, `/@latest`, `/sumdb/` Go; Maven file names Maven; anything else raw.
 */
export function protocolOf(rest: string): GuessedProtocol {
  const path = rest.split('?', 1)[0] ?? '';
  const segments = path.split('/').filter((s) => s !== '');
  const decoded = segments.map(safeDecode);
  const [first = ''] = segments;
  if (first === 'v2') {
    if (segments.length === 1) return { format: 'docker', shape: 'oci', path: undefined, oci: {} };
    if (segments[1] === '_catalog') {
      return { format: 'docker', shape: 'oci', path: undefined, oci: { catalog: true } };
    }
    const at = decoded.findIndex((s, i) => i >= 2 && OCI_OPERATIONS.has(s));
    const image = at === -1 ? undefined : decoded.slice(1, at).join('/');
    return { format: 'docker', shape: 'oci', path: image, oci: { image } };
  }
  if (first === 'simple' || first === 'pypi') {
    // PyPI checks a project only in its normal form; another spelling is first redirected,
    // after a check of the repository alone.
    const project = decoded[1];
    const normal = project?.replace(/[-_.]+/g, '-').toLowerCase();
    return { format: 'pypi', shape: 'text', path: project === normal ? normal : undefined };
  }
  if (path === '/config.json' || path.startsWith('/api/v1/crates')) {
    return { format: 'cargo', shape: 'cargo', path: undefined };
  }
  if (path === '/index.yaml' || path.startsWith('/api/charts')) {
    return { format: 'helm', shape: 'helm', path: undefined };
  }
  const goAt = decoded.findIndex((s) => s === '@v' || s === '@latest');
  if (goAt > 0 || first === 'sumdb') {
    const module = decoded.slice(0, goAt > 0 ? goAt : 0).join('/');
    return {
      format: 'go',
      shape: 'text',
      // Module paths are case-encoded on the wire (`!x` is `X`).
      path:
        module === '' ? undefined : module.replace(/!([a-z])/g, (_, c: string) => c.toUpperCase()),
    };
  }
  if (MAVEN_FILE.test(path)) return { format: 'maven', shape: 'text', path: decoded.join('/') };
  if (first === '-') return { format: 'npm', shape: 'npm', path: undefined };
  if (first.startsWith('@') || segments.length === 1 || segments[1] === '-') {
    // `/<name>`, `/@scope%2fname`, `/@scope/name`, `/<name>/-/<file>.tgz`: a package.
    const name =
      first.startsWith('@') && !/%2f/i.test(first) && decoded[1] !== undefined
        ? `${decoded[0] ?? ''}/${decoded[1]}`
        : (decoded[0] ?? '');
    return { format: 'npm', shape: 'npm', path: name };
  }
  return {
    format: 'raw',
    shape: 'text',
    path: decoded.length === 0 ? undefined : decoded.join('/'),
  };
}

function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/** A hosted repository of `format` called `name`, for asking the access rules about it. */
export function standIn(name: string, format: FormatName): Repository {
  return toRepository({ name, format, kind: 'hosted', members: [], upstreams: [] }, false);
}

/** An error answer: status, headers and the body as it goes on the wire. */
export interface ErrorAnswer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

/** The registry action a request method needs, as the OCI token scope names it. */
function ociActions(method: string): string {
  if (method === 'GET' || method === 'HEAD') return 'pull';
  if (method === 'DELETE') return 'delete';
  return 'pull,push';
}

/**
 * `err` in the error format of `guess` (for a request to repository `name` with `method`), with
 * that protocol's challenge on a 401 (`oci`: the token endpoint's URL and service name, for an
 * OCI Bearer challenge).
 */
export function errorAnswer(
  err: RegistryError,
  guess: GuessedProtocol,
  request: { readonly name: string; readonly method: string },
  oci: { readonly realm: string; readonly service: string },
): ErrorAnswer {
  const shape = guess.shape;
  const message = err.message.replace(/[\r\n]+/g, ' ');
  const challenge = (value: string) => (err.status === 401 ? { 'www-authenticate': value } : {});
  const json = 'application/json; charset=utf-8';
  switch (shape) {
    case 'text':
      return {
        status: err.status,
        headers: { 'content-type': 'text/plain; charset=utf-8', ...challenge(BASIC_CHALLENGE) },
        body: `${message}\n`,
      };
    case 'npm':
      return {
        status: err.status,
        headers: { 'content-type': json },
        body: JSON.stringify({ error: message }),
      };
    case 'helm':
      return {
        status: err.status,
        headers: { 'content-type': json, ...challenge(BASIC_CHALLENGE) },
        body: JSON.stringify({ error: message }),
      };
    case 'cargo':
      return {
        status: err.status,
        headers: { 'content-type': json, ...challenge('Cargo') },
        body: JSON.stringify({ errors: [{ detail: message }] }),
      };
    case 'oci': {
      const quoted = (value: string) => `"${value.replace(/["\\]/g, '\\$&')}"`;
      const scope =
        guess.oci?.catalog === true
          ? 'registry:catalog:*'
          : guess.oci?.image !== undefined
            ? `repository:${request.name}/${guess.oci.image}:${ociActions(request.method)}`
            : undefined;
      const bearer = [`realm=${quoted(oci.realm)}`, `service=${quoted(oci.service)}`];
      if (scope !== undefined) bearer.push(`scope=${quoted(scope)}`);
      // `/v2/` itself is refused with the bare message, as the OCI routes refuse it.
      const bare = guess.oci?.catalog !== true && guess.oci?.image === undefined;
      const code =
        err.status === 401 ? 'UNAUTHORIZED' : err.status === 403 ? 'DENIED' : 'NAME_UNKNOWN';
      return {
        status: err.status,
        headers: {
          'content-type': 'application/json',
          'docker-distribution-api-version': 'registry/2.0',
          ...challenge(`Bearer ${bearer.join(',')}`),
        },
        body: JSON.stringify({
          errors: [
            {
              code,
              message: err.status === 401 && bare ? 'authentication required' : message,
              detail: null,
            },
          ],
        }),
      };
    }
  }
}
