/**
 * The body of `PUT /api/v1/crates/new` (Cargo book, "Registry web API", publish):
 *
 *   u32 LE  length of the JSON metadata
 *   JSON    metadata (name, vers, deps, features, description, keywords, …)
 *   u32 LE  length of the .crate file
 *   bytes   the .crate file (a gzipped tarball of `<name>-<vers>/…`)
 *
 * Read as a stream with every length checked against what it may cost: the JSON is bounded
 * (MAX_JSON_BYTES), the .crate is refused from its length prefix when it exceeds the upload
 * limit (413) and streamed to a spool file while its SHA-256 is computed, a body that ends early
 * or carries bytes past the .crate is refused (400). The .crate is then read back (gunzip +
 * tar-stream, bounded) to check that its `Cargo.toml` names the same crate and version as the
 * metadata and that every file sits under `<name>-<vers>/`. Only then may the caller commit it.
 */
import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { parse as parseToml } from 'smol-toml';
import tar from 'tar-stream';
import { z } from 'zod';
import { RegistryError } from '../../core/errors.ts';
import type { IndexDependency, IndexEntry, IndexFile } from './model.ts';
import {
  checkCrateName,
  checkCrateVersion,
  isCargoVersionReq,
  type CrateVersion,
} from './names.ts';

/** The metadata JSON's limit: it carries names, features and short texts, never the README. */
export const MAX_JSON_BYTES = 1024 * 1024;
/** Cargo.toml inside the .crate. */
const MAX_MANIFEST_BYTES = 1024 * 1024;
const MAX_ENTRIES = 100_000;

const depSchema = z.object({
  name: z.string().min(1).max(64),
  version_req: z
    .string()
    .min(1)
    .max(256)
    .refine(isCargoVersionReq, { message: 'not a Cargo version requirement (e.g. "^1.2")' }),
  features: z.array(z.string().max(256)).max(1000).default([]),
  optional: z.boolean().default(false),
  default_features: z.boolean().default(true),
  target: z.string().max(512).nullish(),
  kind: z.enum(['normal', 'dev', 'build']).nullish(),
  registry: z.string().max(2048).nullish(),
  explicit_name_in_toml: z.string().min(1).max(64).nullish(),
});

/**
 * `{feature: [values]}`, its keys defined as own properties (Object.fromEntries). Not
 * `z.record`: zod drops a `__proto__` key, which is a feature name Cargo accepts (and
 * `{}[name] = …` would set the prototype instead of a key): the index entry would lose it.
 */
function featureMap() {
  return z.unknown().transform((value, ctx): Record<string, readonly string[]> => {
    if (value === undefined) return {};
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      ctx.addIssue({ code: 'custom', message: 'features must be an object' });
      return z.NEVER;
    }
    const entries = Object.entries(value);
    for (const [name, values] of entries) {
      if (
        name.length > 256 ||
        !Array.isArray(values) ||
        values.length > 1000 ||
        !values.every((v): v is string => typeof v === 'string' && v.length <= 512)
      ) {
        ctx.addIssue({
          code: 'custom',
          path: [name],
          message: 'a feature is a name (≤ 256 characters) and a list of ≤ 1000 strings',
        });
        return z.NEVER;
      }
    }
    return Object.fromEntries(entries);
  });
}

const shortText = z
  .string()
  .max(64 * 1024)
  .nullish();

/** The publish metadata (unknown fields are ignored, as crates.io does). */
export const publishMetadataSchema = z.object({
  name: z.string().max(256),
  vers: z.string().max(256),
  deps: z.array(depSchema).max(2000).default([]),
  features: featureMap(),
  authors: z.array(z.string().max(1024)).max(200).default([]),
  description: shortText,
  documentation: shortText,
  homepage: shortText,
  readme: z
    .string()
    .max(10 * 1024 * 1024)
    .nullish(),
  readme_file: shortText,
  keywords: z.array(z.string().max(64)).max(50).default([]),
  categories: z.array(z.string().max(128)).max(50).default([]),
  license: shortText,
  license_file: shortText,
  repository: shortText,
  links: z.string().max(256).nullish(),
  rust_version: z.string().max(64).nullish(),
  /** Not sent by Cargo; when a client sends it, the .crate must hash to it. */
  cksum: z.string().max(128).nullish(),
});

export type PublishMetadata = z.infer<typeof publishMetadataSchema>;

export interface ReceivedCrate {
  readonly metadata: PublishMetadata;
  readonly version: CrateVersion;
  /** The index entry the version gets (`yanked: false`). */
  readonly entry: IndexEntry;
  /** The spool file holding the verified .crate (the caller commits or removes it). */
  readonly spool: string;
  readonly size: number;
  readonly sha256: string;
}

export interface ReceiveOptions {
  /** Largest .crate, bytes (413 above). */
  readonly maxCrateBytes: number;
  /** A fresh spool file path. */
  readonly spoolPath: () => Promise<string>;
  /** Called with the crate name from the metadata before the .crate is read; throws to refuse. */
  readonly authorize?: ((name: string) => Promise<void> | void) | undefined;
  /**
   * The body's length when the request declared it (Content-Length): a length prefix claiming
   * more than the body holds is then a 400 at once, not a 413 (a JSON text read as a prefix
   * claims hundreds of MB) or a wait for bytes that never come.
   */
  readonly bodyLength?: number | undefined;
}

function bad(message: string): RegistryError {
  return new RegistryError('BAD_REQUEST', message);
}

/** Pulls exact byte counts from a stream (the framing of the publish body). */
class BodyReader {
  readonly #iterator: AsyncIterator<Buffer | string>;
  #buffer: Buffer = Buffer.alloc(0);
  #ended = false;

  constructor(body: Readable) {
    this.#iterator = (body as AsyncIterable<Buffer | string>)[Symbol.asyncIterator]();
  }

  async #fill(): Promise<boolean> {
    if (this.#ended) return false;
    const next = await this.#iterator.next();
    if (next.done === true) {
      this.#ended = true;
      return false;
    }
    const chunk = typeof next.value === 'string' ? Buffer.from(next.value) : next.value;
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
    return true;
  }

  /** Exactly `n` bytes, or undefined when the body ends first. */
  async exactly(n: number): Promise<Buffer | undefined> {
    while (this.#buffer.length < n) {
      if (!(await this.#fill())) return undefined;
    }
    const out = this.#buffer.subarray(0, n);
    this.#buffer = this.#buffer.subarray(n);
    return out;
  }

  /** Chunks totalling `n` bytes; the count received so far when the body ends first. */
  async *take(n: number): AsyncGenerator<Buffer, number> {
    let left = n;
    while (left > 0) {
      if (this.#buffer.length === 0 && !(await this.#fill())) return n - left;
      const chunk = this.#buffer.subarray(0, Math.min(left, this.#buffer.length));
      this.#buffer = this.#buffer.subarray(chunk.length);
      left -= chunk.length;
      yield chunk;
    }
    return n;
  }

  /** True when nothing follows. */
  async atEnd(): Promise<boolean> {
    while (this.#buffer.length === 0) {
      if (!(await this.#fill())) return true;
    }
    return false;
  }
}

/**
 * Reads and verifies a publish body. Throws BAD_REQUEST (framing, JSON, names, a .crate that
 * disagrees with its metadata), TOO_LARGE (JSON or .crate over the limits); the spool file is
 * removed on any failure.
 */
export async function receivePublish(
  body: Readable,
  options: ReceiveOptions,
): Promise<ReceivedCrate> {
  const reader = new BodyReader(body);
  const jsonLength = await readLength(reader, 'metadata');
  checkPrefix(options.bodyLength, 4 + jsonLength, 'metadata', jsonLength);
  if (jsonLength > MAX_JSON_BYTES) {
    throw new RegistryError(
      'TOO_LARGE',
      `the publish metadata is ${jsonLength} bytes; at most ${MAX_JSON_BYTES} are accepted`,
    );
  }
  const json = await reader.exactly(jsonLength);
  if (json === undefined) {
    throw bad(
      `the request body ended inside the metadata (its length prefix said ${jsonLength} bytes)`,
    );
  }
  const metadata = parseMetadata(json);
  checkCrateName(metadata.name);
  const version = checkCrateVersion(metadata.vers);
  await options.authorize?.(metadata.name);
  const crateLength = await readLength(reader, '.crate');
  checkPrefix(options.bodyLength, 8 + jsonLength + crateLength, '.crate', crateLength);
  if (crateLength > options.maxCrateBytes) {
    throw new RegistryError(
      'TOO_LARGE',
      `the .crate is ${crateLength} bytes; the limit is ${options.maxCrateBytes} bytes ([cargo] max_upload_mb)`,
    );
  }
  const spool = await options.spoolPath();
  try {
    const hash = createHash('sha256');
    const file = await fs.open(spool, 'wx');
    let received: number;
    try {
      const chunks = reader.take(crateLength);
      for (;;) {
        const next = await chunks.next();
        if (next.done === true) {
          received = next.value;
          break;
        }
        hash.update(next.value);
        await file.write(next.value);
      }
    } finally {
      await file.close();
    }
    if (received < crateLength) {
      throw bad(
        `the request body ended after ${received} of the ${crateLength} bytes of the .crate its length prefix announced`,
      );
    }
    if (!(await reader.atEnd())) {
      throw bad('the request body carries bytes past the .crate its length prefix announced');
    }
    const sha256 = hash.digest('hex');
    if (
      metadata.cksum !== undefined &&
      metadata.cksum !== null &&
      metadata.cksum.toLowerCase() !== sha256
    ) {
      throw bad(`the .crate's SHA-256 is ${sha256}, the metadata says ${metadata.cksum}`);
    }
    await checkCrateContents(spool, metadata.name, metadata.vers, crateLength);
    return {
      metadata,
      version,
      entry: indexEntry(metadata, sha256),
      spool,
      size: crateLength,
      sha256,
    };
  } catch (err) {
    await fs.rm(spool, { force: true });
    throw err;
  }
}

/**
 * 400 when a length prefix (of the `what`, `claimed` bytes) puts the body's end at `needed`
 * bytes, past the `bodyLength` the request declared: the body is cut short, or the prefix lies
 * (or is not one: `{"a":1}` sent as the body reads as a 576,791,163-byte prefix).
 */
function checkPrefix(
  bodyLength: number | undefined,
  needed: number,
  what: string,
  claimed: number,
): void {
  if (bodyLength === undefined || needed <= bodyLength) return;
  throw bad(
    `the length prefix of the ${what} says ${claimed} bytes, but the request body is ${bodyLength} bytes in all: a truncated body or a wrong length prefix (a cargo publish body is a u32 LE length, the JSON metadata, a u32 LE length, the .crate)`,
  );
}

async function readLength(reader: BodyReader, what: string): Promise<number> {
  const bytes = await reader.exactly(4);
  if (bytes === undefined) {
    throw bad(
      `the request body ended before the length of the ${what} (expected a cargo publish body)`,
    );
  }
  return bytes.readUInt32LE(0);
}

function parseMetadata(json: Buffer): PublishMetadata {
  let value: unknown;
  try {
    value = JSON.parse(json.toString('utf8'));
  } catch {
    throw bad('the publish metadata is not valid JSON');
  }
  const parsed = publishMetadataSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue === undefined ? '' : issue.path.join('.');
    throw bad(
      `invalid publish metadata${where === '' ? '' : ` at ${where}`}: ${issue?.message ?? 'bad shape'}`,
    );
  }
  const features = Object.keys(parsed.data.features).length;
  if (features > 1000)
    throw bad(`the crate declares ${features} features; at most 1000 are accepted`);
  for (const dep of parsed.data.deps) {
    for (const name of [dep.name, dep.explicit_name_in_toml]) {
      if (name !== undefined && name !== null && !/^[A-Za-z0-9_-]+$/.test(name)) {
        throw bad(`invalid dependency name ${JSON.stringify(name)}`);
      }
    }
  }
  return parsed.data;
}

/** Features using `dep:` or `?/` go to `features2` (then `v: 2`) so older Cargo can read `features`. */
function splitFeatures(features: Readonly<Record<string, readonly string[]>>) {
  // Own keys (Object.fromEntries): a feature may be named `__proto__` (see featureMap).
  const plain: [string, readonly string[]][] = [];
  const extended: [string, readonly string[]][] = [];
  for (const [name, values] of Object.entries(features)) {
    if (values.some((v) => v.startsWith('dep:') || v.includes('?/'))) extended.push([name, values]);
    else plain.push([name, values]);
  }
  return { plain: Object.fromEntries(plain), extended: Object.fromEntries(extended) };
}

/** The index entry of a publish (Cargo book, "Index format"; the publish → index field mapping). */
export function indexEntry(metadata: PublishMetadata, cksum: string): IndexEntry {
  const deps: IndexDependency[] = metadata.deps.map((dep) => ({
    // The index names a dependency by what the dependent calls it; `package` is the real crate.
    name: dep.explicit_name_in_toml ?? dep.name,
    req: dep.version_req,
    features: dep.features,
    optional: dep.optional,
    default_features: dep.default_features,
    target: dep.target ?? null,
    kind: dep.kind ?? 'normal',
    ...(dep.registry !== undefined && dep.registry !== null ? { registry: dep.registry } : {}),
    ...(dep.explicit_name_in_toml !== undefined && dep.explicit_name_in_toml !== null
      ? { package: dep.name }
      : {}),
  }));
  const { plain, extended } = splitFeatures(metadata.features);
  const hasExtended = Object.keys(extended).length > 0;
  return {
    name: metadata.name,
    vers: metadata.vers,
    deps,
    cksum,
    features: plain,
    yanked: false,
    links: metadata.links ?? null,
    ...(hasExtended ? { features2: extended, v: 2 } : {}),
    ...(metadata.rust_version !== undefined && metadata.rust_version !== null
      ? { rust_version: metadata.rust_version }
      : {}),
  };
}

/**
 * Checks the .crate at `file`: a gzipped tarball whose every entry is under `<name>-<vers>/`
 * (no `..`, no absolute path) and whose `<name>-<vers>/Cargo.toml` declares `package.name` =
 * `name` and `package.version` = `vers`. Bounded: unpacked bytes ≤ 512 MiB or 20× the .crate
 * (whichever is larger), at most MAX_ENTRIES entries.
 */
export async function checkCrateContents(
  file: string,
  name: string,
  vers: string,
  size: number,
): Promise<void> {
  const root = `${name}-${vers}`;
  const maxUnpacked = Math.max(512 * 1024 * 1024, size * 20);
  const source = createReadStream(file);
  const gunzip = createGunzip();
  const extract = tar.extract();
  const progress = { unpacked: 0, failure: undefined as RegistryError | undefined };
  const stop = (failure: RegistryError) => {
    progress.failure ??= failure;
    source.destroy();
    gunzip.destroy();
    extract.destroy();
  };
  gunzip.on('error', () => {
    stop(bad('the .crate is not a valid gzip file (corrupt or truncated)'));
  });
  gunzip.on('data', (chunk: Buffer) => {
    progress.unpacked += chunk.length;
    if (progress.unpacked > maxUnpacked) {
      stop(bad(`the .crate unpacks to more than ${maxUnpacked} bytes`));
    }
  });
  source.pipe(gunzip).pipe(extract);
  let manifest: Buffer | undefined;
  let entries = 0;
  try {
    for await (const entry of extract) {
      entries++;
      if (entries > MAX_ENTRIES) throw bad(`the .crate holds more than ${MAX_ENTRIES} entries`);
      const path = entry.header.name.replace(/^\.\//, '');
      const parts = path.split('/');
      if (parts[0] !== root || parts.some((p) => p === '..') || path.startsWith('/')) {
        throw bad(`the .crate holds ${JSON.stringify(path.slice(0, 200))}, outside ${root}/`);
      }
      // Files and directories only: a symlink or device in a package is refused as crates.io
      // does (a consumer's `cargo build` would follow it outside the crate).
      if (entry.header.type !== 'file' && entry.header.type !== 'directory') {
        throw bad(`the .crate holds ${JSON.stringify(path.slice(0, 200))}, which is not a file`);
      }
      if (path === `${root}/Cargo.toml` && entry.header.type === 'file') {
        if (entry.header.size > MAX_MANIFEST_BYTES)
          throw bad('the Cargo.toml in the .crate is too large');
        const chunks: Buffer[] = [];
        for await (const chunk of entry as AsyncIterable<Buffer>) chunks.push(chunk);
        manifest = Buffer.concat(chunks);
      } else {
        entry.resume();
      }
    }
  } catch (err) {
    const failure =
      err instanceof RegistryError
        ? err
        : (progress.failure ?? bad('the .crate is not a valid gzipped tarball'));
    stop(failure);
    throw failure;
  } finally {
    source.destroy();
  }
  if (progress.failure !== undefined) throw progress.failure;
  if (manifest === undefined) throw bad(`the .crate has no ${root}/Cargo.toml`);
  let toml: Record<string, unknown>;
  try {
    toml = parseToml(manifest.toString('utf8'));
  } catch {
    throw bad(`the ${root}/Cargo.toml in the .crate is not valid TOML`);
  }
  const pkg = toml['package'] ?? toml['project'];
  const pkgName =
    typeof pkg === 'object' && pkg !== null ? (pkg as Record<string, unknown>)['name'] : undefined;
  const pkgVersion =
    typeof pkg === 'object' && pkg !== null
      ? (pkg as Record<string, unknown>)['version']
      : undefined;
  if (pkgName !== name) {
    throw bad(
      `the Cargo.toml in the .crate names the crate ${JSON.stringify(pkgName ?? null)}, the metadata ${JSON.stringify(name)}`,
    );
  }
  if (pkgVersion !== vers) {
    throw bad(
      `the Cargo.toml in the .crate has version ${JSON.stringify(pkgVersion ?? null)}, the metadata ${JSON.stringify(vers)}`,
    );
  }
}

/** Index lookups a publish runs at once while checking its dependencies. */
const DEPENDENCY_LOOKUPS_AT_ONCE = 8;

/**
 * Refuses a publish whose same-registry dependency names no crate (crates.io's
 * `no known crate named \`x\``, 400). A dependency is "same registry" when its `registry` is
 * absent, null or `""` (Cargo writes `registry` only for a dependency from another registry
 * than the one published to; crates.io takes `""` as its own). Every kind is checked — normal,
 * build and dev — as crates.io does (Cargo sends a dev-dependency only when it has a version).
 * The name must match exactly, as crates.io and Cargo's resolver compare it (`foo_bar` does not
 * name `foo-bar`, `Serde` does not name `serde`); a dependency on the crate being published is
 * its own registry's (crates.io records the crate before its dependencies).
 *
 * `lookup(name)` is the index file of `name` (lower-cased) in the registry the client published
 * to — a group (its hosted members, then its proxies' upstreams) or a hosted repository alone —
 * undefined when absent; a NOT_FOUND it throws (a group whose member failed) is "absent" with its
 * message kept as the reason. Other errors propagate.
 */
export async function checkDependencies(
  metadata: PublishMetadata,
  lookup: (lowerName: string) => Promise<IndexFile | undefined>,
): Promise<void> {
  const names = new Set<string>();
  for (const dep of metadata.deps) {
    if (dep.registry !== undefined && dep.registry !== null && dep.registry !== '') continue;
    if (dep.name === metadata.name) continue;
    names.add(dep.name);
  }
  const pending = [...names];
  const missing: string[] = [];
  const notes: string[] = [];
  const worker = async () => {
    for (let name = pending.shift(); name !== undefined; name = pending.shift()) {
      let file: IndexFile | undefined;
      try {
        file = await lookup(name.toLowerCase());
      } catch (err) {
        if (!(err instanceof RegistryError) || err.code !== 'NOT_FOUND') throw err;
        notes.push(err.message);
      }
      if (file?.entries.some((entry) => entry.name === name) !== true) missing.push(name);
    }
  };
  await Promise.all(Array.from({ length: DEPENDENCY_LOOKUPS_AT_ONCE }, worker));
  if (missing.length === 0) return;
  missing.sort();
  const [first] = missing;
  const more = missing.length > 1 ? ` (and ${missing.slice(1).join(', ')})` : '';
  throw bad(
    `no known crate named \`${first ?? ''}\`${more}: a dependency without \`registry\` must be a crate of the registry published to` +
      (notes.length > 0 ? ` (${notes[0] ?? ''})` : ''),
  );
}
