/**
 * verify-before-commit (NORA's import, reference §3.9): a file's bytes are hashed as they stream
 * from the source to NORA, and the stream ERRORS instead of ending when the digest or the length
 * differs from the listing. The last chunk is held back until the digest and the length are
 * checked (as storage's read-verify holds its last chunk), so on a mismatch an upload fed from it
 * is aborted with its last bytes never sent: NORA never receives a complete body the source did
 * not vouch for, whatever the chunking.
 */
import { createHash } from 'node:crypto';
import { Transform } from 'node:stream';
import type { SourceBody, SourceFile, VerifiedBody } from './types.ts';

/** The digest a file is checked against, or why it cannot be imported (no usable checksum). */
export type Expected =
  { readonly algorithm: 'sha256' | 'sha1'; readonly digest: string } | { readonly refused: string };

/** sha256 when listed; sha1 only when `allowSha1`; else a refusal with its reason. */
export function expectedDigest(file: SourceFile, allowSha1: boolean): Expected {
  if (file.sha256 !== undefined) return { algorithm: 'sha256', digest: file.sha256 };
  if (file.sha1 !== undefined) {
    return allowSha1
      ? { algorithm: 'sha1', digest: file.sha1 }
      : { refused: 'only a sha1 is listed (pass --allow-sha1 to trust it)' };
  }
  return { refused: 'no checksum listed: cannot verify it' };
}

/** A checksum or length mismatch: the file is not imported. */
export class VerifyError extends Error {}

/**
 * Wraps a download: the returned stream passes the bytes through, hashing and counting them, and
 * errors (VerifyError) at the end on a mismatch, or as soon as more than the length arrived.
 * The latest chunk is always held back one step, and the last one is only released once the
 * digest and length match: a mismatch errors the stream before the body's last byte is out.
 * The length is the listed size, else the download's Content-Length; neither → VerifyError.
 */
export function verifying(
  body: SourceBody,
  file: SourceFile,
  expected: { readonly algorithm: 'sha256' | 'sha1'; readonly digest: string },
): VerifiedBody {
  const length = file.size >= 0 ? file.size : body.length;
  if (length === undefined) {
    body.stream.destroy();
    throw new VerifyError(`${file.path}: neither the listing nor the download gives its size`);
  }
  if (body.length !== undefined && body.length !== length) {
    body.stream.destroy();
    throw new VerifyError(
      `${file.path}: the source sends ${body.length} bytes, its listing says ${length}`,
    );
  }
  const hash = createHash(expected.algorithm);
  let seen = 0;
  let held: Buffer | undefined;
  const check = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      seen += chunk.length;
      if (seen > length) {
        callback(new VerifyError(`${file.path}: more than the ${length} bytes listed`));
        return;
      }
      hash.update(chunk);
      const previous = held;
      held = chunk;
      callback(null, previous);
    },
    flush(callback) {
      const digest = hash.digest('hex');
      if (seen !== length) {
        callback(new VerifyError(`${file.path}: ${seen} bytes received, ${length} listed`));
      } else if (digest !== expected.digest) {
        callback(
          new VerifyError(
            `${file.path}: ${expected.algorithm} mismatch: the bytes hash to ${digest}, the source lists ${expected.digest}; not imported`,
          ),
        );
      } else {
        callback(null, held);
      }
    },
  });
  body.stream.on('error', (err) => check.destroy(err));
  body.stream.pipe(check);
  return { stream: check, length };
}
