/**
 * `nora mirror` (NORA's verb, reference §3.10): pre-fetches the packages a lock file or a list
 * names through a running NORA, so its proxies cache them before a host goes air-gapped. Each
 * format turns its input into `MirrorItem`s; the verb runs them with bounded concurrency and
 * reports each one. This file is the contract between the verb and the formats.
 */

/** A GET through the running server, with the credentials the verb was given. */
export interface MirrorClient {
  /** The server's root, e.g. `http://127.0.0.1:4000` (no trailing slash). */
  readonly base: string;
  /**
   * GETs `base + path` (path starts with `/`, already percent-encoded by the caller). Resolves
   * with the response whatever its status (the caller decides); rejects only when no answer came
   * (refused connection, timeout), with a message naming the URL without credentials.
   */
  get(path: string, headers?: Readonly<Record<string, string>>): Promise<MirrorResponse>;
}

/** The part of an answer a format reads. Bodies must be consumed or discarded (`drain`). */
export interface MirrorResponse {
  readonly status: number;
  header(name: string): string | undefined;
  /** Reads at most `maxBytes` (an error past it): for manifests, packuments, indexes. */
  text(maxBytes: number): Promise<string>;
  /** Reads and discards the body, returning its length in bytes: for the artifacts themselves. */
  drain(): Promise<number>;
}

/** One artifact (or one package's set of files) to pull through the server. */
export interface MirrorItem {
  /** What the report names: `npm lodash@4.17.21`, `cargo serde 1.0.200`, `docker alpine:3.20`. */
  readonly label: string;
  /**
   * Pulls it through `client`; resolves with the bytes fetched. Rejects with an Error whose
   * message says what failed (`404 from /npm/lodash/-/lodash-4.17.21.tgz`), never a stack.
   */
  fetch(client: MirrorClient): Promise<number>;
}

/** Bad input (a lock file that does not parse, a missing file): exit 2 with this message. */
export class MirrorInputError extends Error {}
