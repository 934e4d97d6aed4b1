/**
 * `nora mirror docker --images alpine:3.20,ghcr.io/x/y@sha256:… | --images-file F`: each image
 * pulled through the server's `/v2/` (the `docker` group: hosted, then the Docker Hub and other
 * upstreams) as a pull would: the manifest (an index: every platform's manifest, or only
 * `--platform os/arch[/variant]`), then every blob (config and layers), each verified against
 * its digest (OCI distribution spec, "Pulling manifests"/"Pulling blobs").
 *
 * Names follow Docker's reference rules: a first component with a `.` or `:`, or `localhost`, is
 * a registry host; Docker Hub names (no host, `docker.io`, `index.docker.io`,
 * `registry-1.docker.io`) with one component get `library/` (`alpine` is `library/alpine`,
 * README "Docker Hub through the cache"); any other registry's host is dropped, as NORA reaches
 * other registries through its upstream list (`ghcr.io/x/y` is `/v2/x/y/…`) — or mapped to a
 * routing prefix given as `host=prefix` (`/v2/<prefix>/x/y/…`, docs/proxy.md "Routing").
 */
import { createHash } from 'node:crypto';
import { isValidName, isValidTag } from '../formats/oci/reference.ts';
import type { Command } from 'commander';
import { type MirrorFormat, type MirrorPlan, readInputFile, repositoryMount } from './format.ts';
import { drainVerified, getOk } from './pull.ts';
import { type MirrorClient, MirrorInputError, type MirrorItem } from './types.ts';

/** A parsed image reference. */
export interface ImageReference {
  /** As the user wrote it (the report's label). */
  readonly text: string;
  /** The registry host, or undefined for Docker Hub. */
  readonly host: string | undefined;
  /** The repository name on that registry (`library/alpine`, `x/y`). */
  readonly name: string;
  /** The tag, or the digest when one was given (a digest wins over a tag: `a:1@sha256:…`). */
  readonly reference: string;
  readonly digest: string | undefined;
}

const DOCKER_HUB = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io']);
const DIGEST = /^(sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128})$/;

/** Parses one image reference. Throws MirrorInputError naming it when it is not one. */
export function parseImageReference(text: string): ImageReference {
  const bad = (why: string) => new MirrorInputError(`image ${JSON.stringify(text)}: ${why}`);
  let rest = text.trim();
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at !== -1) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) throw bad(`${digest} is not a sha256/sha512 digest`);
  }
  let host: string | undefined;
  const slash = rest.indexOf('/');
  const first = slash === -1 ? '' : rest.slice(0, slash);
  if (first.includes('.') || first.includes(':') || first === 'localhost') {
    host = DOCKER_HUB.has(first) ? undefined : first;
    rest = rest.slice(slash + 1);
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon !== -1) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!isValidTag(tag)) throw bad(`${JSON.stringify(tag)} is not a tag`);
  }
  let name = rest;
  if (host === undefined && !name.includes('/')) name = `library/${name}`;
  if (!isValidName(name)) throw bad(`${JSON.stringify(rest)} is not a repository name`);
  return { text: text.trim(), host, name, reference: digest ?? tag ?? 'latest', digest };
}

/**
 * The image list of `--images a,b` or of an `--images-file` (one per line; `#` starts a comment;
 * blank lines skipped). Duplicates are kept once. Throws MirrorInputError for a bad reference or
 * an empty list.
 */
export function parseImageList(text: string, separator: 'comma' | 'lines'): ImageReference[] {
  const parts =
    separator === 'comma'
      ? text.split(',')
      : text.split(/\r?\n/).map((line) => line.replace(/(^|\s)#.*$/, ''));
  const out = new Map<string, ImageReference>();
  for (const part of parts) {
    if (part.trim() === '') continue;
    const image = parseImageReference(part);
    out.set(`${image.host ?? ''}/${image.name}@${image.reference}`, image);
  }
  if (out.size === 0) throw new MirrorInputError('no images given');
  return [...out.values()];
}

/** Options of `nora mirror docker`. */
export interface DockerMirrorOptions {
  /** `os/arch[/variant]`: only that platform's manifest of an index (default every one). */
  readonly platform?: string | undefined;
  /** Registry host → routing prefix (`ghcr.io` → `ghcr`): `/v2/<prefix>/<name>`. */
  readonly prefixes?: Readonly<Record<string, string>> | undefined;
  /** A named repository (`/repository/<name>/v2/`) instead of the `/v2/` group. */
  readonly repo?: string | undefined;
}

/** Parses `--platform linux/arm64/v8`; throws MirrorInputError for anything else. */
export function parsePlatform(text: string): {
  os: string;
  architecture: string;
  variant?: string;
} {
  const parts = text.split('/');
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => !/^[a-z0-9_.-]+$/.test(p))) {
    throw new MirrorInputError(`--platform ${JSON.stringify(text)}: expected os/arch[/variant]`);
  }
  const [os = '', architecture = '', variant] = parts;
  return variant === undefined ? { os, architecture } : { os, architecture, variant };
}

const ACCEPT = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');
const INDEX_TYPES = new Set([
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
]);
/** As the server's own bound on a manifest (src/formats/oci/manifest.ts). */
const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
/** Layers a registry must not serve (Docker's foreign layers): clients fetch them elsewhere. */
const FOREIGN = /\.foreign\.|nondistributable/;

interface Descriptor {
  readonly mediaType?: string;
  readonly digest: string;
  readonly size: number;
  readonly platform?: { os?: string; architecture?: string; variant?: string };
  readonly urls?: readonly string[];
}

/**
 * One item per image, labelled `docker <reference as written>`. Fetches the manifest (verified
 * against the digest asked for, else against `Docker-Content-Digest` when sent); for an index,
 * each platform's manifest (filtered by `platform`) by digest; then each distinct blob once,
 * drained and checked against its digest and size. Fails naming the first path that answered
 * other than 200 or did not match.
 */
export function dockerItems(
  images: readonly ImageReference[],
  options: DockerMirrorOptions = {},
): MirrorItem[] {
  const platform = options.platform === undefined ? undefined : parsePlatform(options.platform);
  const v2 = `${repositoryMount('', options.repo)}/v2`;
  return images.map((image) => {
    const prefix = image.host === undefined ? undefined : options.prefixes?.[image.host];
    const name = prefix === undefined ? image.name : `${prefix}/${image.name}`;
    const base = `${v2}/${name}`;
    return {
      label: `docker ${image.text}`,
      async fetch(client) {
        const top = await getManifest(client, base, image.reference, image.digest);
        let bytes = top.bytes;
        const blobs = new Map<string, Descriptor>();
        const images: Descriptor[][] = [];
        if (INDEX_TYPES.has(top.mediaType)) {
          const list = top.doc['manifests'] ?? [];
          if (!Array.isArray(list)) throw new Error(`${top.path}: manifests is not a list`);
          const children = list.map((d: unknown, i) => descriptor(d, top.path, `manifests[${i}]`));
          const chosen = children.filter((child) => {
            if (platform === undefined) return true;
            const p = child.platform;
            return (
              p?.os === platform.os &&
              p.architecture === platform.architecture &&
              (platform.variant === undefined || p.variant === platform.variant)
            );
          });
          if (chosen.length === 0) {
            throw new Error(`${top.path} has no manifest for platform ${options.platform ?? ''}`);
          }
          for (const child of chosen) {
            const got = await getManifest(client, base, child.digest, child.digest);
            bytes += got.bytes;
            if (INDEX_TYPES.has(got.mediaType)) continue; // nested index: its own blobs are manifests
            images.push(blobsOf(got.doc, got.path));
          }
        } else {
          images.push(blobsOf(top.doc, top.path));
        }
        for (const list of images) for (const blob of list) blobs.set(blob.digest, blob);
        for (const blob of blobs.values()) {
          const path = `${base}/blobs/${blob.digest}`;
          const res = await getOk(client, path);
          const [algorithm = '', hex = ''] = blob.digest.split(':');
          const got = await drainVerified(res, path, [{ algorithm, hex }], 'the manifest');
          if (got !== blob.size) {
            throw new Error(
              `size mismatch: ${path} has ${got} bytes, the manifest says ${blob.size}`,
            );
          }
          bytes += got;
        }
        return bytes;
      },
    };
  });
}

/** GETs a manifest, verifies it, parses it. */
async function getManifest(
  client: MirrorClient,
  base: string,
  reference: string,
  expected: string | undefined,
): Promise<{ doc: Record<string, unknown>; mediaType: string; bytes: number; path: string }> {
  const path = `${base}/manifests/${reference}`;
  const res = await getOk(client, path, { accept: ACCEPT });
  const text = await res.text(MAX_MANIFEST_BYTES);
  const body = Buffer.from(text, 'utf8');
  const want = expected ?? res.header('docker-content-digest');
  if (want !== undefined && DIGEST.test(want)) {
    const [algorithm = 'sha256', hex] = want.split(':');
    const got = createHash(algorithm).update(body).digest('hex');
    if (got !== hex)
      throw new Error(`digest mismatch: ${path} has ${algorithm}:${got}, not ${want}`);
  }
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new Error(`${path} is not JSON`);
  }
  const declared = doc['mediaType'];
  const header = res.header('content-type')?.split(';')[0]?.trim();
  const mediaType = typeof declared === 'string' ? declared : (header ?? '');
  if (doc['schemaVersion'] !== 2) {
    throw new Error(`${path}: schemaVersion ${String(doc['schemaVersion'])} is not supported`);
  }
  return { doc, mediaType, bytes: body.length, path };
}

/** The config and distributable layers of an image manifest. */
function blobsOf(doc: Record<string, unknown>, path: string): Descriptor[] {
  const out: Descriptor[] = [];
  const check = (d: unknown, where: string) => descriptor(d, path, where);
  if (doc['config'] !== undefined) out.push(check(doc['config'], 'config'));
  const layers = doc['layers'] ?? [];
  if (!Array.isArray(layers)) throw new Error(`${path}: layers is not a list`);
  layers.forEach((layer: unknown, i) => {
    const desc = check(layer, `layers[${i}]`);
    if (FOREIGN.test(desc.mediaType ?? '') || (desc.urls?.length ?? 0) > 0) return;
    out.push(desc);
  });
  return out;
}

/** `d` as a descriptor, or an error naming where it is in the manifest at `path`. */
function descriptor(d: unknown, path: string, where: string): Descriptor {
  const desc = d as Descriptor | null;
  if (
    typeof desc !== 'object' ||
    desc === null ||
    typeof desc.digest !== 'string' ||
    !DIGEST.test(desc.digest) ||
    typeof desc.size !== 'number'
  ) {
    throw new Error(`${path}: ${where} is not a descriptor with a digest and size`);
  }
  return desc;
}

/** `nora mirror docker --images a:1,b@sha256:… | --images-file F` (run.ts MIRROR_FORMATS). */
export const dockerFormat: MirrorFormat = {
  // The registry's base, 200 or a 401 challenge: either way with the API version header.
  probe: {
    path: '/v2/',
    kind: 'an OCI (docker)',
    mount: '/v2/',
    answers: (status, header) =>
      (status === 200 || status === 401) && header('docker-distribution-api-version') !== undefined,
  },
  description:
    'images (every platform, or --platform) with every blob, through /v2/ (Docker Hub names get library/)',
  options(command: Command) {
    command
      .option(
        '--images <list>',
        'image references, comma-separated (alpine:3.20,ghcr.io/x/y@sha256:…)',
      )
      .option('--images-file <file>', 'image references, one per line, # comments (- for stdin)')
      .option(
        '--platform <os/arch[/variant]>',
        "only this platform's manifest of a multi-platform image",
      )
      .option(
        '--prefix <host=prefix,…>',
        "reach another registry's images under a routing prefix ([docker] upstreams prefix): ghcr.io=ghcr",
      );
  },
  async plan(options, context): Promise<MirrorPlan> {
    const list = options['images'] as string | undefined;
    const file = options['imagesFile'] as string | undefined;
    if ((list === undefined) === (file === undefined)) {
      throw new MirrorInputError('give one of --images and --images-file');
    }
    const images =
      list === undefined
        ? parseImageList(await readInputFile(file ?? '-'), 'lines')
        : parseImageList(list, 'comma');
    const platform = options['platform'] as string | undefined;
    if (platform !== undefined) parsePlatform(platform);
    const prefixes = parsePrefixes(options['prefix'] as string | undefined);
    return {
      items: dockerItems(images, { platform, prefixes, repo: context.repo }),
      skipped: [],
    };
  },
};

/** `--prefix ghcr.io=ghcr,quay.io=quay`: host → routing prefix. MirrorInputError when malformed. */
export function parsePrefixes(text: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (text ?? '').split(',')) {
    if (part.trim() === '') continue;
    const match = /^([a-z0-9.-]+(?::\d+)?)=([a-z0-9]+(?:[._/-][a-z0-9]+)*)$/.exec(part.trim());
    if (match === null) {
      throw new MirrorInputError(
        `--prefix ${JSON.stringify(part)}: expected host=prefix (ghcr.io=ghcr)`,
      );
    }
    out[match[1] ?? ''] = match[2] ?? '';
  }
  return out;
}
