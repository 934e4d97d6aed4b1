/**
 * What the cargo, maven and docker formats of `nora mirror` share about an answer: an error
 * message naming the status and the path (never the server's base or credentials), and the
 * registry mount a `--repo NAME` option selects.
 */
import type { MirrorResponse } from './types.ts';

/**
 * The path prefix of a format's mount: `defaultMount` (`/cargo`, `/maven2`, `/v2` lives at the
 * root) for the default group, `/repository/<name>` for a named repository (`--repo NAME`).
 */
export function mountPath(defaultMount: string, repo: string | undefined): string {
  return repo === undefined ? defaultMount : `/repository/${encodeURIComponent(repo)}`;
}

/**
 * Resolves when `res` is a 200; otherwise discards its body and throws `<status> from <path>`
 * with the first line of a short error body (NORA's answers say why: a 404 naming the failed
 * upstream).
 */
export async function expectOk(res: MirrorResponse, path: string): Promise<void> {
  if (res.status === 200) return;
  let detail = '';
  try {
    detail = (await res.text(4096)).split('\n')[0]?.trim() ?? '';
  } catch {
    // A body longer than that or cut short: the status says enough.
    await res.drain().catch(() => 0);
  }
  throw new Error(`${res.status} from ${path}${detail === '' ? '' : `: ${detail.slice(0, 300)}`}`);
}
