/**
 * The publish most writers do: a file whose NORA path is known from its source path, sent with
 * one PUT (Maven, raw). HEAD first: a file NORA already has is `skipped`, not sent again (NORA's
 * release files are immutable, so a second PUT would be a 409 anyway).
 */
import { errorNote } from '../mirror/client.ts';
import type { WriteContext, WriteOutcome } from './types.ts';

/**
 * HEADs `path` on the target, and PUTs the verified body there when it is missing.
 * `path` is the full URL path (`/maven2/org/acme/…`), percent-encoded by the caller.
 * A non-2xx PUT is `failed` with `<status> from PUT <path>: <start of the answer's body>`;
 * a checksum mismatch aborts the upload and is `failed` with the mismatch.
 */
export async function putIfMissing(
  ctx: WriteContext,
  path: string,
  headers: Readonly<Record<string, string>> = {},
): Promise<WriteOutcome> {
  try {
    if (await ctx.nora.exists(path)) return { status: 'skipped', reason: 'already in NORA' };
    const body = await ctx.open();
    const answer = await ctx.nora.request('PUT', path, {
      headers: {
        'content-type': 'application/octet-stream',
        'content-length': String(body.length),
        ...headers,
      },
      body: body.stream,
    });
    if (answer.ok) {
      await answer.discard().catch(() => undefined);
      return { status: 'imported', bytes: body.length };
    }
    return { status: 'failed', reason: await answerReason(answer, 'PUT', path) };
  } catch (err) {
    return { status: 'failed', reason: err instanceof Error ? err.message : String(err) };
  }
}

/**
 * `<status> <text> from <method> <path>: <the answer's error message>` (errorNote: NORA's JSON
 * `error`, or the start of the body on one line, control characters escaped).
 */
export async function answerReason(
  answer: { status: number; statusText: string; text(): Promise<string> },
  method: string,
  path: string,
): Promise<string> {
  const text = await answer.text().catch(() => '');
  return `${answer.status} ${answer.statusText} from ${method} ${path}${errorNote(text)}`;
}

/** Each `/`-separated segment of a repository-relative path, percent-encoded for a URL. */
export function encodePath(path: string): string {
  return path.split('/').map(encodeURIComponent).join('/');
}

/**
 * Why a listed repository-relative path cannot be imported, or undefined when it is safe: an
 * empty, `.` or `..` segment (a URL parser normalises it away, so the file would land outside
 * its repository on NORA, or be read from outside it on the source), a backslash, NUL or another
 * control character (C0, DEL, C1). Checked before anything is requested for the file.
 */
export function unsafePath(path: string): string | undefined {
  if (/[\\\u0000-\u001f\u007f-\u009f]/.test(path)) {
    return 'unsafe path: a backslash or a control character';
  }
  if (path.split('/').some((s) => s === '' || s === '.' || s === '..')) {
    return 'unsafe path: an empty, . or .. segment';
  }
  return undefined;
}
