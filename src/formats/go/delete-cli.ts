/**
 * `nora go delete [--registry URL] [--token T] MODULE@VERSION` and `nora go delete --all MODULE`:
 * an admin deletes one hosted module version, or every version of a hosted module, over HTTP
 * (delete.ts; docs/go.md "Deleting a module version"):
 *
 *   DELETE <registry>/<escaped module>/@v/<escaped version>.zip
 *   DELETE <registry>/<escaped module>/@v/list
 *
 * What the CLI adds to a curl: the module path and version are checked and case-encoded
 * (`github.com/Azure/x` is `github.com/!azure/x` in the URL, which a hand-written URL gets wrong),
 * and a whole module is deleted only when `--all` says so. Registry and credentials as `nora go
 * publish` (publish-cli.ts registryOf): `--registry`, NORA_GO_REGISTRY, else the configured
 * server's `/go`; `--token`/NORA_TOKEN (Bearer) or `user:secret@` in the URL (Basic). The server's
 * answer line goes to stdout; a refusal is `nora go delete: <status> <reason>: <its line>`, exit 1.
 */
import { checkPath, escapePath, escapeVersion } from './module.ts';
import { type HttpAnswer, httpRequest } from '../../core/http-client.ts';
import { answerOf, registryOf, unreachable, versionArgumentError } from './publish-cli.ts';

/** A failure the user can act on: printed as `nora go delete: …`, exit 1. */
export class GoDeleteError extends Error {}

export interface GoDeleteOptions {
  /** `MODULE@VERSION`, or `MODULE` with `all`. */
  readonly target: string;
  /** Delete every version of the module (`target` names no version). */
  readonly all?: boolean | undefined;
  readonly registry?: string | undefined;
  readonly token?: string | undefined;
}

/** Sends the delete; resolves to the server's answer line. Throws GoDeleteError. */
export async function goDelete(options: GoDeleteOptions): Promise<string> {
  const fail = (message: string) => new GoDeleteError(message);
  const at = options.target.lastIndexOf('@');
  const module = at < 0 ? options.target : options.target.slice(0, at);
  const version = at < 0 ? undefined : options.target.slice(at + 1);
  const badPath = checkPath(module);
  if (badPath !== undefined) throw fail(badPath);
  let file: string;
  if (version === undefined) {
    if (options.all !== true) {
      throw fail(
        `${module}: give MODULE@VERSION to delete one version, or --all to delete every version of ${module}`,
      );
    }
    file = 'list';
  } else {
    if (options.all === true) {
      throw fail(`--all deletes every version of a module: give ${module} without @${version}`);
    }
    const err = versionArgumentError(module, version);
    if (err !== undefined) throw fail(err);
    file = `${escapeVersion(version)}.zip`;
  }
  const { prefix, headers } = registryOf(options, fail);
  let res: HttpAnswer;
  try {
    res = await httpRequest(`${prefix}/${escapePath(module)}/@v/${file}`, {
      method: 'DELETE',
      headers,
    });
  } catch (e) {
    throw fail(unreachable(prefix, e));
  }
  return answerOf(res, prefix, headers, fail);
}
