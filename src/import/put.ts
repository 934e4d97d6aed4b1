/**
 * The publish most writers do: a file whose NORA path is known from its source path, sent with
 * one PUT (Maven, raw). HEAD first: a file NORA already has is `skipped`, not sent again (NORA's
 * release files are immutable, so a second PUT would be a 409 anyway) — when its ETag (raw: the
 * sha256, Maven: the sha1) matches the listing; different bytes are `failed`.
 */
import { errorNote } from '../mirror/client.ts';
import type { SourceFile, WriteContext, WriteOutcome } from './types.ts';

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
    const head = await ctx.nora.request('HEAD', path);
    await head.discard().catch(() => undefined);
    if (head.ok) return presentOutcome(ctx.file, head.header('etag'));
    if (head.status !== 404)
      return { status: 'failed', reason: await answerReason(head, 'HEAD', path) };
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
    const reason = await answerReason(answer, 'PUT', path);
    if (answer.status === 409) {
      // Stored since the HEAD (another run at once): the same bytes are done, not a failure.
      const again = await ctx.nora.request('HEAD', path);
      await again.discard().catch(() => undefined);
      if (again.ok) {
        const present = presentOutcome(ctx.file, again.header('etag'));
        if (present.status === 'skipped' && !present.reason.includes('not compared')) {
          return present;
        }
      }
    }
    return { status: 'failed', reason };
  } catch (err) {
    return { status: 'failed', reason: err instanceof Error ? err.message : String(err) };
  }
}

/**
 * A file NORA already has at its path: `skipped` when NORA's ETag is the listed sha256 (raw's
 * ETag: 64 hex digits) or sha1 (Maven's: 40), `failed` naming both digests when it differs, and
 * `skipped` "present (not compared)" when the ETag tells neither.
 */
export function presentOutcome(file: SourceFile, etag: string | undefined): WriteOutcome {
  const tag = (etag ?? '').replace(/^W\//, '').replaceAll('"', '').toLowerCase();
  const listed = /^[0-9a-f]{64}$/.test(tag)
    ? { algorithm: 'sha256', digest: file.sha256 }
    : /^[0-9a-f]{40}$/.test(tag)
      ? { algorithm: 'sha1', digest: file.sha1 }
      : undefined;
  if (listed?.digest === undefined) {
    return { status: 'skipped', reason: 'already in NORA (present, not compared)' };
  }
  if (listed.digest.toLowerCase() === tag) {
    return { status: 'skipped', reason: `already in NORA (same ${listed.algorithm})` };
  }
  return {
    status: 'failed',
    reason: `NORA has different bytes at this path: ${listed.algorithm} ${tag}, source ${listed.digest}`,
  };
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
  // eslint-disable-next-line no-control-regex -- control characters are what it looks for
  if (/[\\\u0000-\u001f\u007f-\u009f]/.test(path)) {
    return 'unsafe path: a backslash or a control character';
  }
  if (path.split('/').some((s) => s === '' || s === '.' || s === '..')) {
    return 'unsafe path: an empty, . or .. segment';
  }
  return undefined;
}
