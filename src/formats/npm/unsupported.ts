/**
 * npm commands NORA does not implement, answered with one clear refusal each instead of whatever
 * the endpoint they reach would say ("you may only read your own user document" for
 * `npm owner add`, "packument body has no versions object" for `npm star`, a bare 404 for
 * `npm profile get`: the thirteenth trial's F1 and F5).
 *
 * The status is 405: npm prints it as `npm error code E405` followed by the message, with none
 * of the hints it adds to a 401 ("npm login"), 403 ("forbidden by your security policy") or 404
 * ("could not be found or you do not have permission"), and, unlike a 5xx, it does not retry.
 */
import { methodNotAllowed, type RegistryError } from '../../core/errors.ts';
import type { Json } from './store.ts';

/** An npm command, as `npm-command` names it, that NORA refuses as a whole. */
export type UnsupportedCommand =
  'owner' | 'star' | 'profile' | 'access' | 'org' | 'team' | 'hook' | 'trust';

const INSTEAD: Record<UnsupportedCommand, string> = {
  owner:
    'who may publish, unpublish and tag a package is decided by [[auth.rules]] on the repository, not by a maintainer list (docs/npm.md "Owners"); `npm owner ls` shows who published it',
  star: 'packages have no stars here',
  profile:
    "accounts are the htpasswd file and the users `npm adduser` creates; tokens are `npm token` or NORA's token API (docs/auth.md)",
  access:
    'who may read or write a package is decided by [[auth.rules]] on the repository (docs/auth.md "Permissions")',
  org: 'there are no organisations: groups of users are [auth.groups] (docs/auth.md)',
  team: 'there are no teams: groups of users are [auth.groups] (docs/auth.md)',
  hook: 'there are no package hooks',
  trust: 'CI publishing without a stored token uses [auth.oidc] providers (docs/auth.md)',
};

/**
 * The 405 for `npm <command>` (and its subcommands), saying what to do instead. `allowed` is
 * what the URL serves for other requests, its `Allow`: nothing at the command's own endpoints
 * (empty), a user document's or a packument's methods where the command reuses those URLs.
 */
export function unsupportedCommand(
  command: UnsupportedCommand,
  allowed: readonly string[],
): RegistryError {
  const what = command === 'owner' ? 'npm owner add/rm' : `npm ${command}`;
  return methodNotAllowed(`${what} is not supported by NORA: ${INSTEAD[command]}`, allowed);
}

/**
 * Which unsupported command a packument `PUT` without attachments and without `versions` is:
 * `npm owner add/rm` PUTs `{_id, _rev, maintainers}` to `/<name>/-rev/<rev>`, `npm star` and
 * `npm unstar` PUT `{_id, _rev, users}` to `/<name>`. Undefined for any other body (deprecate,
 * a version unpublish: they carry `versions`), which the update path judges.
 */
export function unsupportedUpdate(body: Json): UnsupportedCommand | undefined {
  if (body['versions'] !== undefined) return undefined;
  if (body['maintainers'] !== undefined) return 'owner';
  if (body['users'] !== undefined) return 'star';
  return undefined;
}
