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
import type { ClaimedPath, ErrorShape, FormatModule, RequestPath } from '../formats/format.ts';
import { toRepository, type Repository } from '../repos/repository.ts';
import { npmChallenge } from '../formats/npm/challenge.ts';
import { BASIC_CHALLENGE } from './format-errors.ts';

/** The protocol a path below `/repository/<name>` speaks, and the path its access check uses. */
export interface GuessedProtocol extends ClaimedPath {
  readonly format: FormatName;
  readonly shape: ErrorShape;
}

/**
 * The order formats are asked to claim a path. Their shapes overlap: npm's one-segment package
 * path would also match `/index.yaml` or `/config.json`, a Maven file name may sit under `/@v/`,
 * and raw claims every path; so the formats whose paths are most telling come first.
 */
const CLAIM_ORDER: readonly FormatName[] = [
  'docker',
  'pypi',
  'cargo',
  'helm',
  'go',
  'maven',
  'npm',
  'raw',
];

/**
 * The protocol of `rest` (the raw path after `/repository/<name>`, starting with `/` or empty),
 * by the shape of its paths: the first of `formats` in CLAIM_ORDER whose `protocolPath` claims
 * it (each format's index.ts says what it claims), else raw's plain text with no rule path.
 */
export function protocolOf(rest: string, formats: readonly FormatModule[]): GuessedProtocol {
  const path = rest.split('?', 1)[0] ?? '';
  const segments = path.split('/').filter((s) => s !== '');
  const request: RequestPath = { path, segments, decoded: segments.map(safeDecode) };
  for (const name of CLAIM_ORDER) {
    const protocol = formats.find((f) => f.format === name)?.protocolPath;
    const claimed = protocol?.claim(request);
    if (protocol !== undefined && claimed !== undefined) {
      return { ...claimed, format: name, shape: protocol.errorShape };
    }
  }
  return { format: 'raw', shape: 'text', path: undefined };
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
 * OCI Bearer challenge; npm: none to the npm CLI, by `userAgent`, as the npm routes answer).
 */
export function errorAnswer(
  err: RegistryError,
  guess: GuessedProtocol,
  request: {
    readonly name: string;
    readonly method: string;
    readonly userAgent?: string | undefined;
  },
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
    case 'npm': {
      const npm = npmChallenge(request.userAgent);
      return {
        status: err.status,
        headers: { 'content-type': json, ...(npm === undefined ? {} : challenge(npm)) },
        body: JSON.stringify({ error: message }),
      };
    }
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
