/**
 * Hand-made `.crate` files and `cargo publish` bodies for the Cargo tests: a gzipped tarball of
 * `<name>-<vers>/Cargo.toml` (+ src/lib.rs), and the length-prefixed body (u32 LE JSON length,
 * JSON, u32 LE .crate length, .crate) with knobs to make it lie.
 */
import { buffer } from 'node:stream/consumers';
import { gzipSync } from 'node:zlib';
import tar from 'tar-stream';

export interface CrateOptions {
  /** Overrides the name/version written into Cargo.toml (mismatch tests). */
  readonly manifestName?: string;
  readonly manifestVersion?: string;
  /** The archive's top directory (default `<name>-<vers>`). */
  readonly root?: string;
  /** Extra entries: path (inside the archive, used as is) → content. */
  readonly extra?: Readonly<Record<string, string>>;
  readonly withoutManifest?: boolean;
  /** A symlink entry: path inside the archive → link target. */
  readonly symlink?: { readonly path: string; readonly target: string };
}

export async function makeCrate(
  name: string,
  vers: string,
  options: CrateOptions = {},
): Promise<Buffer> {
  const root = options.root ?? `${name}-${vers}`;
  const pack = tar.pack();
  if (options.withoutManifest !== true) {
    const toml =
      `[package]\nname = "${options.manifestName ?? name}"\n` +
      `version = "${options.manifestVersion ?? vers}"\nedition = "2021"\n`;
    pack.entry({ name: `${root}/Cargo.toml` }, toml);
  }
  pack.entry({ name: `${root}/src/lib.rs` }, `pub fn hello() -> &'static str { "${name}" }\n`);
  for (const [path, content] of Object.entries(options.extra ?? {})) {
    pack.entry({ name: path }, content);
  }
  if (options.symlink !== undefined) {
    pack.entry({ name: options.symlink.path, type: 'symlink', linkname: options.symlink.target });
  }
  pack.finalize();
  return gzipSync(await buffer(pack));
}

/** Publish metadata as Cargo sends it (only what the tests need). */
export function metadata(
  name: string,
  vers: string,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    name,
    vers,
    deps: [],
    features: {},
    authors: ['Test <test@example.invalid>'],
    description: `the ${name} crate`,
    keywords: [],
    categories: [],
    license: 'MIT',
    links: null,
    ...extra,
  };
}

export interface BodyOptions {
  /** Replaces the JSON length prefix. */
  readonly jsonLength?: number;
  /** Replaces the .crate length prefix. */
  readonly crateLength?: number;
  /** Bytes appended after the .crate. */
  readonly trailing?: Buffer;
  /** Cut the body to this many bytes. */
  readonly truncateTo?: number;
}

export function publishBody(
  meta: Record<string, unknown> | Buffer,
  crate: Buffer,
  options: BodyOptions = {},
): Buffer {
  const json = Buffer.isBuffer(meta) ? meta : Buffer.from(JSON.stringify(meta));
  const jsonLength = Buffer.alloc(4);
  jsonLength.writeUInt32LE(options.jsonLength ?? json.length);
  const crateLength = Buffer.alloc(4);
  crateLength.writeUInt32LE(options.crateLength ?? crate.length);
  const body = Buffer.concat([
    jsonLength,
    json,
    crateLength,
    crate,
    options.trailing ?? Buffer.alloc(0),
  ]);
  return options.truncateTo === undefined ? body : body.subarray(0, options.truncateTo);
}

/** A publishable crate: its body for `PUT /api/v1/crates/new`. */
export async function crateBody(
  name: string,
  vers: string,
  extra: Record<string, unknown> = {},
): Promise<Buffer> {
  return publishBody(metadata(name, vers, extra), await makeCrate(name, vers));
}
