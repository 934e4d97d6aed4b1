/**
 * Content digests (`sha256:<64 hex>`, `sha512:<128 hex>`): parsing, formatting, hashing.
 * Every digest that enters from the wire goes through `parseDigest`.
 */
import { createHash, type Hash } from 'node:crypto';
import { RegistryError } from './errors.ts';

export const DIGEST_ALGORITHMS = { sha256: 64, sha512: 128 } as const;
export type DigestAlgorithm = keyof typeof DIGEST_ALGORITHMS;

export interface Digest {
  readonly algorithm: DigestAlgorithm;
  readonly hex: string;
}

const DIGEST_PATTERN = /^(sha256|sha512):([a-f0-9]+)$/;
/** The OCI grammar for algorithms we do not implement: recognised so we can say "unsupported". */
const ANY_DIGEST_PATTERN = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;

export function isDigestAlgorithm(value: string): value is DigestAlgorithm {
  return value === 'sha256' || value === 'sha512';
}

/** Parses a digest string or returns undefined. */
export function tryParseDigest(value: string): Digest | undefined {
  const match = DIGEST_PATTERN.exec(value);
  if (!match) return undefined;
  const algorithm = match[1];
  const hex = match[2];
  if (algorithm === undefined || hex === undefined || !isDigestAlgorithm(algorithm))
    return undefined;
  if (hex.length !== DIGEST_ALGORITHMS[algorithm]) return undefined;
  return { algorithm, hex };
}

/** Parses a digest string; throws DIGEST_INVALID (400) when it is malformed or unsupported. */
export function parseDigest(value: string): Digest {
  const digest = tryParseDigest(value);
  if (digest) return digest;
  const message = ANY_DIGEST_PATTERN.test(value)
    ? `unsupported digest algorithm or malformed digest: ${truncate(value)}`
    : `invalid digest: ${truncate(value)}`;
  throw new RegistryError('DIGEST_INVALID', message, { protocolCode: 'DIGEST_INVALID' });
}

export function formatDigest(digest: Digest): string {
  return `${digest.algorithm}:${digest.hex}`;
}

export function digestsEqual(a: Digest, b: Digest): boolean {
  return a.algorithm === b.algorithm && a.hex === b.hex;
}

export function createHasher(algorithm: DigestAlgorithm): Hash {
  return createHash(algorithm);
}

export function digestOf(data: Uint8Array | string, algorithm: DigestAlgorithm = 'sha256'): Digest {
  return { algorithm, hex: createHash(algorithm).update(data).digest('hex') };
}

function truncate(value: string): string {
  return value.length > 140 ? `${value.slice(0, 140)}…` : value;
}
