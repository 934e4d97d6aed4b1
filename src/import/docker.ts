/**
 * Docker writer: an image is copied through the registry API of both sides (the source's `/v2/`,
 * ImportSource.dockerRegistry, to NORA's `/v2/`), not from the files the source stores. The
 * listing only says which tags exist: Artifactory keeps `<image>/<tag>/manifest.json` (an index:
 * `list.manifest.json`) next to its blobs, Nexus lists `v2/<image>/manifests/<tag>`; each tag's
 * manifest file is taken, every blob and by-digest manifest is ignored (copied with the tag that
 * references it).
 *
 * One tag: its manifest is read from the source (bounded, MAX_MANIFEST_BYTES) and its digest
 * checked against the source's `Docker-Content-Digest`; when NORA's tag already has that digest
 * it is skipped. Else, for an index each child manifest first, then each manifest's config and
 * layers: a blob NORA has (HEAD) is not sent, another is streamed from the source's GET into
 * NORA's upload (POST, then PUT `?digest=`: NORA checks the digest and refuses a mismatch, so a
 * corrupt blob never completes), and the manifest is PUT last, by tag.
 */
import { createHash } from 'node:crypto';
import { readAllBounded } from '../core/streams.ts';
import { answerReason } from './put.ts';
import { guarded } from './body.ts';
import type { ImportSource, ImportWriter, WriteContext, WriteOutcome } from './types.ts';

/** A manifest or index is a small JSON document (NORA's own limit). */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

const ACCEPT = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');

const DIGEST = /^sha256:[a-f0-9]{64}$/;
/** A tag as the distribution spec allows it (so it needs no escaping in a URL). */
const TAG = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;

/** The image and tag a listed file names, or undefined when it is no tag's manifest. */
export function dockerTagOf(path: string): { image: string; tag: string } | undefined {
  const nexus = /^v2\/(.+)\/manifests\/([^/]+)$/.exec(path);
  if (nexus) {
    const [, image = '', tag = ''] = nexus;
    return image.startsWith('-/') || !TAG.test(tag) ? undefined : { image, tag };
  }
  const artifactory = /^(.+)\/([^/]+)\/(?:list\.)?manifest\.json$/.exec(path);
  if (artifactory) {
    const [, image = '', tag = ''] = artifactory;
    return tag.startsWith('sha256') || !TAG.test(tag) ? undefined : { image, tag };
  }
  return undefined;
}

export const dockerWriter: ImportWriter = {
  format: 'docker',
  accepts(file) {
    if (dockerTagOf(file.path) !== undefined) return { action: 'take' };
    return { action: 'ignore', reason: 'image blob or by-digest manifest: copied with its tag' };
  },
  write: guarded(async (ctx) => {
    const named = dockerTagOf(ctx.file.path);
    if (named === undefined) return { status: 'failed', reason: 'not a tag of an image' };
    return copyTag(ctx, named.image, named.tag);
  }),
};

function imagePath(image: string): string {
  return image.split('/').map(encodeURIComponent).join('/');
}

interface Manifest {
  readonly bytes: Buffer;
  readonly digest: string;
  readonly mediaType: string;
}

async function copyTag(ctx: WriteContext, image: string, tag: string): Promise<WriteOutcome> {
  const source = ctx.sourceRegistry(ctx.source);
  const image64 = imagePath(image);
  const nora = `${ctx.target.path}/${image64}`;
  const top = await sourceManifest(source, image64, tag);

  const existing = await ctx.nora.request('HEAD', `${nora}/manifests/${tag}`, {
    headers: { accept: ACCEPT },
  });
  await existing.discard();
  if (existing.ok && existing.header('docker-content-digest') === top.digest) {
    return { status: 'skipped', reason: `${image}:${tag} already in NORA` };
  }
  const counter = { bytes: 0 };
  const parsed = JSON.parse(top.bytes.toString('utf8')) as Record<string, unknown>;
  const children = Array.isArray(parsed['manifests']) ? parsed['manifests'] : undefined;
  if (children !== undefined) {
    for (const child of children as Record<string, unknown>[]) {
      const digest = child['digest'];
      if (typeof digest !== 'string' || !DIGEST.test(digest)) {
        throw new Error(`index of ${image}:${tag} lists a manifest without a sha256 digest`);
      }
      if (await ctx.nora.exists(`${nora}/manifests/${digest}`)) continue;
      const manifest = await sourceManifest(source, image64, digest);
      await copyBlobs(ctx, source, image64, nora, manifest, counter);
      await putManifest(ctx, nora, digest, manifest);
    }
  } else {
    await copyBlobs(ctx, source, image64, nora, top, counter);
  }
  await putManifest(ctx, nora, tag, top);
  return { status: 'imported', bytes: counter.bytes + top.bytes.length };
}

/** The source's registry API (`get` sends a GET under its `/v2/`). */
type Registry = ReturnType<ImportSource['dockerRegistry']>;

/**
 * A manifest from the source (`reference`: a tag or digest, both URL-safe), its digest checked when the source or the reference names one. */
async function sourceManifest(
  source: Registry,
  image64: string,
  reference: string,
): Promise<Manifest> {
  const path = `/v2/${image64}/manifests/${reference}`;
  const answer = await source.get(path, { accept: ACCEPT });
  if (!answer.ok) throw new Error(`source: ${await answerReason(answer, 'GET', path)}`);
  const bytes = await readAllBounded(answer.body, MAX_MANIFEST_BYTES, 'manifest');
  const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
  const named = DIGEST.test(reference) ? reference : answer.header('docker-content-digest');
  if (named !== undefined && named !== digest) {
    throw new Error(`source: manifest ${path} is ${digest}, not the ${named} it was named by`);
  }
  const declared = (JSON.parse(bytes.toString('utf8')) as Record<string, unknown>)['mediaType'];
  const mediaType =
    typeof declared === 'string'
      ? declared
      : (answer.header('content-type') ?? 'application/vnd.oci.image.manifest.v1+json');
  return { bytes, digest, mediaType };
}

/** The config and layers of one image manifest, copied unless NORA has them. */
async function copyBlobs(
  ctx: WriteContext,
  source: Registry,
  image64: string,
  nora: string,
  manifest: Manifest,
  counter: { bytes: number },
): Promise<void> {
  const parsed = JSON.parse(manifest.bytes.toString('utf8')) as Record<string, unknown>;
  const layers = Array.isArray(parsed['layers']) ? (parsed['layers'] as unknown[]) : [];
  for (const descriptor of [parsed['config'], ...layers]) {
    if (typeof descriptor !== 'object' || descriptor === null) continue;
    const digest = (descriptor as Record<string, unknown>)['digest'];
    if (typeof digest !== 'string' || !DIGEST.test(digest)) {
      throw new Error(`manifest ${manifest.digest} lists a blob without a sha256 digest`);
    }
    if (await ctx.nora.exists(`${nora}/blobs/${digest}`)) continue;
    const path = `/v2/${image64}/blobs/${digest}`;
    const blob = await source.get(path);
    if (!blob.ok) throw new Error(`source: ${await answerReason(blob, 'GET', path)}`);
    const length = blob.header('content-length');
    const start = await ctx.nora.request('POST', `${nora}/blobs/uploads/`, {
      headers: { 'content-length': '0' },
    });
    const location = start.header('location');
    if (start.status !== 202 || location === undefined) {
      await blob.discard();
      throw new Error(await answerReason(start, 'POST', `${nora}/blobs/uploads/`));
    }
    await start.discard();
    // NORA answers with a path (or, behind a proxy, a URL): the request goes to the target.
    const upload = new URL(location, ctx.nora.base);
    upload.searchParams.set('digest', digest);
    const put = `${upload.pathname}${upload.search}`;
    const answer = await ctx.nora.request('PUT', put, {
      headers: {
        'content-type': 'application/octet-stream',
        ...(length === undefined ? {} : { 'content-length': length }),
      },
      body: blob.body,
    });
    if (!answer.ok) throw new Error(await answerReason(answer, 'PUT', upload.pathname));
    await answer.discard();
    counter.bytes += Number(length ?? 0);
  }
}

/** PUTs a manifest's exact bytes at `reference` (a tag or its digest). */
async function putManifest(
  ctx: WriteContext,
  nora: string,
  reference: string,
  manifest: Manifest,
): Promise<void> {
  const path = `${nora}/manifests/${reference}`;
  const answer = await ctx.nora.request('PUT', path, {
    headers: { 'content-type': manifest.mediaType },
    body: manifest.bytes,
  });
  if (!answer.ok) throw new Error(await answerReason(answer, 'PUT', path));
  await answer.discard();
}
