/**
 * What every mirror format does with an answer: refuse a status that is not 200 with a message
 * naming the path (`404 from /npm/x/-/x-1.0.0.tgz: not found`), and drain an artifact while
 * verifying it against the digest its lock file pins (mirror-common: the pre-fetch is only
 * trustworthy if it checks what the lock file promised).
 */
import { errorNote, type HashingMirrorResponse } from './client.ts';
import type { MirrorClient, MirrorResponse } from './types.ts';

/** One acceptable digest of an artifact: the bytes match when any one of a list matches. */
export interface ExpectedDigest {
  /** A node:crypto algorithm name: `sha1`, `sha256`, `sha384`, `sha512`. */
  readonly algorithm: string;
  /** Lower-case hex. */
  readonly hex: string;
}

/** An error body's note is read up to this much (the rest is dropped with the connection). */
const MAX_ERROR_BODY = 16 * 1024;

/**
 * GETs `path`; resolves with the response when its status is 200. Any other status is an Error
 * `<status> from <path>: <the server's message>` (the body read for its message, bounded).
 */
export async function getOk(
  client: MirrorClient,
  path: string,
  headers?: Readonly<Record<string, string>>,
): Promise<MirrorResponse> {
  const res = await client.get(path, headers);
  if (res.status === 200) return res;
  let note = '';
  try {
    note = errorNote(await res.text(MAX_ERROR_BODY));
  } catch {
    // a body past the bound or cut: the status says enough
  }
  throw new Error(`${res.status} from ${path}${note}`);
}

/**
 * Drains `res` (the artifact at `path`), hashing it with the algorithms of `expected`; resolves
 * with its length when `expected` is empty or one of its digests matches, else rejects with
 * `<algorithm> mismatch for <path>: the lock file pins …, the server sent … (<n> bytes)`. A
 * response that cannot hash (not from client.ts's client) is refused when a digest is expected.
 */
export async function drainVerified(
  res: MirrorResponse,
  path: string,
  expected: readonly ExpectedDigest[],
  pinnedBy = 'the lock file',
): Promise<number> {
  if (expected.length === 0) return res.drain();
  const hashing = res as Partial<HashingMirrorResponse>;
  if (typeof hashing.drainHashing !== 'function') {
    await res.drain();
    throw new Error(`cannot verify ${path}: this client does not hash what it drains`);
  }
  const algorithms = [...new Set(expected.map((digest) => digest.algorithm))];
  const { bytes, digests } = await hashing.drainHashing.call(res, algorithms);
  if (expected.some((digest) => digests[digest.algorithm] === digest.hex.toLowerCase())) {
    return bytes;
  }
  const first = expected[0] as ExpectedDigest;
  const more = expected.length > 1 ? ` (or ${expected.length - 1} other)` : '';
  throw new Error(
    `${first.algorithm} mismatch for ${path}: ${pinnedBy} pins ${first.hex}${more}, the server sent ${digests[first.algorithm] ?? '?'} (${bytes} bytes)`,
  );
}

/** Strongest first, as ssri (npm's integrity checker) picks the algorithm it checks. */
const SRI_ALGORITHMS = ['sha512', 'sha384', 'sha256', 'sha1'] as const;

/**
 * The digests of a Subresource Integrity string (npm's `integrity`: `sha512-<base64>`, several
 * separated by spaces) that a download must match: those of the strongest algorithm present,
 * as npm checks them. Unknown algorithms and malformed parts are ignored (an empty list: nothing
 * to check).
 */
export function parseSri(integrity: string | undefined): ExpectedDigest[] {
  if (integrity === undefined) return [];
  const byAlgorithm = new Map<string, string[]>();
  for (const part of integrity.trim().split(/\s+/)) {
    const match = /^(sha1|sha256|sha384|sha512)-([A-Za-z0-9+/]+={0,2})(?:\?.*)?$/.exec(part);
    if (match === null) continue;
    const hex = Buffer.from(match[2] ?? '', 'base64').toString('hex');
    const list = byAlgorithm.get(match[1] ?? '') ?? [];
    list.push(hex);
    byAlgorithm.set(match[1] ?? '', list);
  }
  for (const algorithm of SRI_ALGORITHMS) {
    const hexes = byAlgorithm.get(algorithm);
    if (hexes !== undefined) return hexes.map((hex) => ({ algorithm, hex }));
  }
  return [];
}

/** `123 B`, `4.5 KB`, `12.3 MB`, `1.2 GB` (powers of 1024, as the report shows sizes). */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value >= 100 ? Math.round(value) : value.toFixed(1)} ${units[unit]}`;
}
