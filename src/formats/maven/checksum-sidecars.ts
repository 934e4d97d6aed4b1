/**
 * Uploaded checksum files (`.md5`, `.sha1`, `.sha256`, `.sha512`: the sidecars a deploy sends
 * with each file). They are never stored — hosted.ts serves checksums from the file's row — but
 * compared: with the stored file when it is there (hosted.ts `compareChecksum`), else remembered
 * here (`ExpectedChecksums`) and compared once with the file when it arrives (`checksum_verify`).
 */
import { RegistryError } from '../../core/errors.ts';
import { ExpiringMap } from '../../core/expiring-map.ts';
import type { ChecksumName } from './model.ts';

/**
 * Checksums uploaded before their file, remembered at most this many paths (oldest forgotten
 * first: the order checksum → file is one deploy's, seconds apart) and this long, or until the
 * file arrives and is compared with them (once).
 */
export const MAX_EXPECTED_CHECKSUM_PATHS = 10_000;
export const EXPECTED_CHECKSUM_TTL_MS = 60 * 60 * 1000;

/** The hex length of each checksum algorithm. */
const HEX_LENGTH: Readonly<Record<ChecksumName, number>> = {
  md5: 32,
  sha1: 40,
  sha256: 64,
  sha512: 128,
};

/**
 * The hex digest of an uploaded checksum file (the hex, optionally followed by a file name, as
 * `sha1sum` writes it), lower-cased; undefined when it is not a digest of `algorithm`.
 */
export function checksumHex(algorithm: ChecksumName, text: string): string | undefined {
  const sent = text.trim().split(/\s+/)[0]?.toLowerCase() ?? '';
  return sent.length === HEX_LENGTH[algorithm] && /^[0-9a-f]+$/.test(sent) ? sent : undefined;
}

/**
 * `checksumHex`, or BAD_REQUEST (`the uploaded sha1 of <path> is not a sha1 digest (40 hex
 * digits)`) when `text` is not a digest of `algorithm`, whatever `checksum_verify` says.
 */
export function uploadedChecksum(algorithm: ChecksumName, path: string, text: string): string {
  const sent = checksumHex(algorithm, text);
  if (sent === undefined) {
    throw new RegistryError(
      'BAD_REQUEST',
      `the uploaded ${algorithm} of ${path} is not a ${algorithm} digest (${HEX_LENGTH[algorithm]} hex digits)`,
    );
  }
  return sent;
}

/** A remembered checksum the file disagrees with. */
export interface ChecksumMismatch {
  readonly algorithm: ChecksumName;
  /** The file's own hex digest. */
  readonly actual: string;
  /** The hex uploaded before it. */
  readonly sent: string;
}

/**
 * Checksums uploaded before their file, per `<repo>\n<path>`, bounded (MAX_EXPECTED_CHECKSUM_PATHS,
 * EXPECTED_CHECKSUM_TTL_MS). In memory: the checksum-first order is one client's deploy of one
 * file, so a restart in between only skips that comparison (the file's own hashes are still
 * computed and served).
 */
export class ExpectedChecksums {
  readonly #expected = new ExpiringMap<string, Partial<Record<ChecksumName, string>>>({
    max: MAX_EXPECTED_CHECKSUM_PATHS,
    ttlMs: EXPECTED_CHECKSUM_TTL_MS,
  });

  /**
   * Remembers `text`, the `algorithm` checksum uploaded for `path` before the file. BAD_REQUEST
   * when it is no digest of `algorithm`. A later upload of the same algorithm replaces it.
   */
  expect(repo: string, path: string, algorithm: ChecksumName, text: string): void {
    const sent = uploadedChecksum(algorithm, path, text);
    const key = `${repo}\n${path}`;
    const sums = this.#expected.get(key) ?? {};
    this.#expected.set(key, { ...sums, [algorithm]: sent });
  }

  /** Forgets what is remembered for `path`. */
  forget(repo: string, path: string): void {
    this.#expected.delete(`${repo}\n${path}`);
  }

  /**
   * Compares the file just ingested at `path` (its hex digests `actual`) with the checksums
   * uploaded before it, and forgets them whatever the outcome: after a refusal the client has
   * been told, and a retry of the file (a CI re-run uploads files first, as mvn does) is judged on
   * its own or on a checksum uploaded again before it — never refused for an hour by the first
   * attempt's checksum (trial13 F4). The first disagreeing algorithm, or undefined.
   */
  takeMismatch(
    repo: string,
    path: string,
    actual: (algorithm: ChecksumName) => string,
  ): ChecksumMismatch | undefined {
    const key = `${repo}\n${path}`;
    const expected = this.#expected.get(key);
    if (expected === undefined) return undefined;
    this.#expected.delete(key);
    for (const [algorithm, sent] of Object.entries(expected) as [ChecksumName, string][]) {
      const hex = actual(algorithm);
      if (sent !== hex) return { algorithm, actual: hex, sent };
    }
    return undefined;
  }
}
