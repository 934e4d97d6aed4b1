/**
 * A file NORA already holds under the name and version being imported: skipped only when its
 * bytes are the source's, else a failure ("in NORA with different bytes") — never a silent skip
 * of an artifact that differs from what the source vouches for. NORA's digest comes from its own
 * metadata (npm: the version's `dist.integrity`/`dist.shasum`; PyPI: the PEP 691 page's
 * `hashes.sha256`; Cargo: the index line's `cksum`), so no artifact is downloaded from NORA.
 */
import { createHash } from 'node:crypto';
import type { WriteContext, WriteOutcome } from './types.ts';

export type DigestAlgorithm = 'sha256' | 'sha1' | 'sha512';

/**
 * The source file's digest, lower-case hex: the listed sha256 when that is asked for and listed,
 * else hashed from a download (verified against the listing as it streams: rejects on a
 * mismatch, so a digest of bytes the source does not vouch for is never returned).
 */
export async function sourceDigest(ctx: WriteContext, algorithm: DigestAlgorithm): Promise<string> {
  if (algorithm === 'sha256' && ctx.file.sha256 !== undefined) return ctx.file.sha256;
  const body = await ctx.open();
  const hash = createHash(algorithm);
  for await (const chunk of body.stream as AsyncIterable<Buffer>) hash.update(chunk);
  return hash.digest('hex');
}

/**
 * The outcome for `what` (`name@1.0.0`, a file name) that NORA already holds with `noraDigest`
 * (hex of `algorithm`; undefined when NORA's metadata gives none): `skipped` when the source's
 * bytes hash the same, else `failed` naming both digests.
 */
export async function alreadyInNora(
  ctx: WriteContext,
  what: string,
  algorithm: DigestAlgorithm,
  noraDigest: string | undefined,
): Promise<WriteOutcome> {
  if (noraDigest === undefined) {
    return {
      status: 'failed',
      reason: `${what} is in NORA, whose metadata gives no ${algorithm} to compare it with: not imported`,
    };
  }
  const source = await sourceDigest(ctx, algorithm);
  if (source === noraDigest.toLowerCase()) {
    return { status: 'skipped', reason: `${what} already in NORA` };
  }
  return {
    status: 'failed',
    reason: `${what} in NORA with different bytes (${algorithm} ${noraDigest.toLowerCase()} in NORA, ${source} in the source): not imported`,
  };
}
