/**
 * `npm publish` bodies: a packument with the new version(s) and their tarballs as base64
 * `_attachments`. publish-scan.ts has already decoded the attachments to spool files while the
 * body streamed in; here each one is ingested into the blob store, verified against the
 * manifest's `dist.integrity` and `dist.shasum`, before any metadata is written.
 */
import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import { Readable } from 'node:stream';
import semver from 'semver';
import { type Digest, formatDigest } from '../../core/digest.ts';
import { RegistryError, isRegistryError } from '../../core/errors.ts';
import type { BlobStore } from '../../storage/blob-store.ts';
import { checkPublishName, checkTag, checkVersion, tarballFilename, unscoped } from './names.ts';
import type { SpooledAttachment } from './publish-scan.ts';
import {
  inspectTarball,
  MAX_ENTRIES,
  MAX_RATIO,
  type RootPackageJson,
  type TarballFacts,
  withDerivedFields,
} from './tarball-facts.ts';
import type { Json, NewVersion, PublishInput } from './store.ts';

/** Package-level fields kept from the last publish and rendered in the full packument. */
export const META_FIELDS = [
  'description',
  'readme',
  'readmeFilename',
  'keywords',
  'license',
  'homepage',
  'repository',
  'author',
  'bugs',
  'maintainers',
  'contributors',
] as const;

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
/** `<name>-<version>.tgz` for any name names.ts lets a publish carry (`@corp/_under` too). */
const ATTACHMENT_KEY =
  /^(?:@[a-z0-9._~!'()*-]+\/[A-Za-z0-9_~-]|[A-Za-z0-9~-])[A-Za-z0-9._~+-]*\.tgz$/;

export function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function parseBody(raw: Buffer): Json {
  let body: unknown;
  try {
    body = JSON.parse(raw.toString('utf8'));
  } catch {
    throw new RegistryError('BAD_REQUEST', 'request body is not valid JSON');
  }
  if (!isObject(body)) throw new RegistryError('BAD_REQUEST', 'request body must be a JSON object');
  return body;
}

/** The body's name must be the URL's name (npm's `name` and the CouchDB-era `_id`). */
export function checkBodyName(body: Json, name: string): void {
  for (const field of ['name', '_id'] as const) {
    const value = body[field];
    if (value !== undefined && value !== name) {
      throw new RegistryError(
        'BAD_REQUEST',
        `package ${field} in the body (${JSON.stringify(value).slice(0, 220)}) does not match the URL (${name})`,
      );
    }
  }
}

export function hasAttachments(body: Json): boolean {
  const attachments = body['_attachments'];
  return isObject(attachments) && Object.keys(attachments).length > 0;
}

export interface Publisher {
  readonly name: string;
  readonly email: string | undefined;
}

/** A person as the packument records it: `{ name, email? }`. */
function personOf(publisher: Publisher): Json {
  return { name: publisher.name, ...(publisher.email ? { email: publisher.email } : {}) };
}

/**
 * The package's `maintainers` after a publish, from the list stored before it (`stored`, read in
 * the publish's transaction; anything but an array of `{name}` objects counts as none): the
 * registry decides this list, never the publish body, as npm's registry does (the body's
 * top-level and per-version `maintainers` are dropped). A new package's list is its publisher; a
 * later publish keeps the list and adds its publisher when absent (on npm's registry only a
 * maintainer may publish, so a publisher is always one; here `[[auth.rules]]` decide who may,
 * and whoever did is listed). Without a publisher (an anonymous publish, auth off) the stored
 * list is kept as it is, possibly empty: `npm owner ls` then prints "no admin found".
 */
export function recordedMaintainers(publisher: Publisher | undefined) {
  return (stored: unknown): Json[] => {
    const kept = Array.isArray(stored)
      ? stored.filter((m): m is Json => isObject(m) && typeof m['name'] === 'string')
      : [];
    if (publisher === undefined || kept.some((m) => m['name'] === publisher.name)) return kept;
    return [...kept, personOf(publisher)];
  };
}

/**
 * Validates a publish body and stores its tarballs; returns what the metadata store needs.
 * Throws 400 on anything malformed, before the metadata is touched.
 */
export async function ingestPublish(
  blobs: BlobStore,
  name: string,
  body: Json,
  publisher: Publisher | undefined,
  spools: ReadonlyMap<string, SpooledAttachment> = new Map(),
): Promise<PublishInput> {
  checkPublishName(name);
  checkBodyName(body, name);
  const versions = body['versions'];
  const attachments = body['_attachments'];
  if (!isObject(versions) || Object.keys(versions).length === 0) {
    throw new RegistryError('BAD_REQUEST', 'publish body has no versions');
  }
  if (!isObject(attachments))
    throw new RegistryError('BAD_REQUEST', 'publish body has no _attachments');
  const keys = Object.keys(attachments);
  if (keys.length !== Object.keys(versions).length) {
    throw new RegistryError(
      'BAD_REQUEST',
      'publish body must carry exactly one attachment per version',
    );
  }
  for (const key of keys) {
    // Only looked up in the body, never a path: `a..b-1.0.0.tgz` (npm's names allow `..`) is fine.
    if (!ATTACHMENT_KEY.test(key)) {
      throw new RegistryError(
        'BAD_REQUEST',
        `invalid attachment name: ${JSON.stringify(key.slice(0, 220))}`,
      );
    }
  }

  const out: NewVersion[] = [];
  for (const [version, manifestValue] of Object.entries(versions)) {
    checkVersion(version);
    if (!isObject(manifestValue))
      throw new RegistryError('BAD_REQUEST', `manifest of ${version} is not an object`);
    if (manifestValue['name'] !== name) {
      throw new RegistryError(
        'BAD_REQUEST',
        `manifest name of ${version} does not match the URL (${name})`,
      );
    }
    if (manifestValue['version'] !== version) {
      throw new RegistryError('BAD_REQUEST', `manifest version does not match its key ${version}`);
    }
    const key =
      keys.find((k) => k === `${name}-${version}.tgz`) ??
      keys.find((k) => k === `${unscoped(name)}-${version}.tgz`);
    if (key === undefined) {
      throw new RegistryError(
        'BAD_REQUEST',
        `no attachment named ${name}-${version}.tgz for version ${version}`,
      );
    }
    const { stored, facts } = await ingestAttachment(
      blobs,
      name,
      version,
      attachments[key],
      manifestValue,
      spools,
    );
    out.push({
      ...stored,
      manifest: withDerivedFields(
        versionManifest(name, version, manifestValue, stored, publisher),
        facts,
      ),
    });
  }

  const tags: Record<string, string> = {};
  const bodyTags = body['dist-tags'];
  if (bodyTags !== undefined && !isObject(bodyTags))
    throw new RegistryError('BAD_REQUEST', 'dist-tags must be an object');
  for (const [tag, version] of Object.entries(bodyTags ?? {})) {
    checkTag(tag);
    if (typeof version !== 'string' || !out.some((v) => v.version === version)) {
      throw new RegistryError(
        'BAD_REQUEST',
        `dist-tag "${tag}" must point at a version being published`,
      );
    }
    tags[tag] = version;
  }
  return {
    versions: out,
    tags,
    meta: packageMeta(body, out),
    maintainers: recordedMaintainers(publisher),
  };
}

async function ingestAttachment(
  blobs: BlobStore,
  name: string,
  version: string,
  attachment: unknown,
  manifest: Json,
  spools: ReadonlyMap<string, SpooledAttachment>,
): Promise<{ stored: Omit<NewVersion, 'manifest'>; facts: TarballFacts | undefined }> {
  if (!isObject(attachment) || typeof attachment['data'] !== 'string') {
    throw new RegistryError('BAD_REQUEST', `attachment of ${version} has no base64 data`);
  }
  const data = attachment['data'];
  const spooled = spools.get(data);
  let size: number;
  let head: Buffer;
  let open: () => Readable;
  if (spooled) {
    // Decoded to disk while the body streamed in (publish-scan.ts): nothing held in memory.
    size = spooled.size;
    head = Buffer.alloc(2);
    const handle = await fs.open(spooled.path, 'r');
    try {
      await handle.read(head, 0, 2, 0);
    } finally {
      await handle.close();
    }
    open = () => createReadStream(spooled.path);
  } else {
    if (data.length === 0 || data.length % 4 !== 0 || !BASE64.test(data)) {
      throw new RegistryError('BAD_REQUEST', `attachment of ${version} is not valid base64`);
    }
    const bytes = Buffer.from(data, 'base64');
    size = bytes.length;
    head = bytes.subarray(0, 2);
    open = () => Readable.from([bytes]);
  }
  const declared = attachment['length'];
  if (declared !== undefined && declared !== size) {
    throw new RegistryError(
      'BAD_REQUEST',
      `attachment of ${version}: length ${JSON.stringify(declared)} does not match ${size} decoded bytes`,
    );
  }
  if (size < 2 || head[0] !== 0x1f || head[1] !== 0x8b) {
    throw new RegistryError('BAD_REQUEST', `attachment of ${version} is not a gzipped tarball`);
  }
  // Read before anything is stored (from the spool file or the decoded bytes; bounded, see
  // tarball-facts.ts): a corrupt archive is refused, its package.json must name the package and
  // version published, and the facts are what the registry derives from the tarball
  // (_hasShrinkwrap, hasInstallScript, fileCount, unpackedSize).
  const inspected = await inspectTarball(open(), size);
  if (inspected.kind === 'corrupt') {
    throw new RegistryError(
      'BAD_REQUEST',
      `attachment of ${version} is not a valid gzipped tarball: ${inspected.reason.slice(0, 200)}`,
    );
  }
  if (inspected.kind === 'unbounded') {
    throw new RegistryError(
      'BAD_REQUEST',
      `tarball of ${name}@${version} is past what the registry reads at publish (${MAX_ENTRIES} entries, or ${MAX_RATIO} times its size unpacked past 1 GiB), so its package.json cannot be checked against the publish`,
    );
  }
  checkTarballIdentity(name, version, inspected.packageJsons);
  const facts = inspected.facts;
  const dist = isObject(manifest['dist']) ? manifest['dist'] : {};
  const expected = expectedSha512(dist['integrity']);
  let result;
  try {
    result = await blobs.ingest(open(), {
      ...(expected ? { expected } : {}),
      hashes: ['sha512', 'sha1'],
    });
  } catch (err) {
    if (isRegistryError(err) && err.code === 'DIGEST_INVALID') {
      throw new RegistryError(
        'BAD_REQUEST',
        `tarball of ${name}@${version} does not match dist.integrity`,
      );
    }
    throw err;
  }
  // Without a sha512 integrity to check, the content address is sha256 (the store's default).
  const sha512 = result.hashes.sha512 ?? '';
  const sha1 = result.hashes.sha1 ?? '';
  if (typeof dist['shasum'] === 'string' && dist['shasum'] !== sha1) {
    throw new RegistryError(
      'BAD_REQUEST',
      `tarball of ${name}@${version} does not match dist.shasum`,
    );
  }
  return {
    stored: {
      version,
      filename: tarballFilename(name, version),
      digest: formatDigest(result.digest),
      integrity: `sha512-${Buffer.from(sha512, 'hex').toString('base64')}`,
      shasum: sha1,
      size: result.size,
      created: result.created,
    },
    facts,
  };
}

/**
 * Refuses (400) a tarball whose root `package.json` does not name the package and version being
 * published ("manifest confusion": `npm install` unpacks the tarball and runs what its
 * package.json says — scripts, dependencies, bin — while the registry shows the publish body's
 * manifest). Every root package.json counts (npm extracts them all, the last one wins), and there
 * must be one. Spelled as npm's own publish derives the manifest from the file: the name trimmed,
 * the version as `semver.clean` reads it (`v1.0.0` and `1.0.0+b1` are published as `1.0.0`), and
 * the manifest's version is read the same way (a body sent as `1.0.0+b1` matches its file).
 */
export function checkTarballIdentity(
  name: string,
  version: string,
  found: readonly RootPackageJson[],
): void {
  const refuse = (why: string) =>
    new RegistryError(
      'BAD_REQUEST',
      `tarball of ${name}@${version}: ${why}; a tarball's package.json must name the package and version published`,
    );
  if (found.length === 0) throw refuse('it has no package.json at its root (package/package.json)');
  const cleanVersion = (value: unknown) =>
    typeof value === 'string' ? (semver.clean(value, { loose: true }) ?? undefined) : undefined;
  const published = cleanVersion(version) ?? version;
  for (const file of found) {
    if ('problem' in file) throw refuse(`its package.json cannot be read: ${file.problem}`);
    const fileName = typeof file.name === 'string' ? file.name.trim() : undefined;
    if (fileName !== name || cleanVersion(file.version) !== published) {
      const shown = (value: unknown) => JSON.stringify(value ?? null).slice(0, 220);
      throw refuse(`its package.json names ${shown(file.name)} version ${shown(file.version)}`);
    }
  }
}

/** `sha512-<base64>` → a digest to verify against; other algorithms are checked via shasum. */
function expectedSha512(integrity: unknown): Digest | undefined {
  if (typeof integrity !== 'string') return undefined;
  for (const part of integrity.trim().split(/\s+/)) {
    if (part.startsWith('sha512-')) {
      const hex = Buffer.from(part.slice(7), 'base64').toString('hex');
      if (hex.length !== 128) throw new RegistryError('BAD_REQUEST', 'malformed dist.integrity');
      return { algorithm: 'sha512', hex };
    }
  }
  return undefined;
}

function versionManifest(
  name: string,
  version: string,
  manifest: Json,
  stored: Omit<NewVersion, 'manifest'>,
  publisher: Publisher | undefined,
): Json {
  const dist = isObject(manifest['dist']) ? { ...manifest['dist'] } : {};
  delete dist['tarball'];
  dist['integrity'] = stored.integrity;
  dist['shasum'] = stored.shasum;
  const out: Json = { ...manifest, _id: `${name}@${version}`, dist };
  // Who published and who maintains it are the registry's to say, as on npm's registry: the
  // authenticated publisher (none for an anonymous publish), and the package's maintainers,
  // which the store sets inside the publish's transaction (recordedMaintainers).
  delete out['_npmUser'];
  delete out['maintainers'];
  if (publisher) out['_npmUser'] = personOf(publisher);
  return out;
}

/** The package-level fields of the body (or the last version); `maintainers` never from it. */
function packageMeta(body: Json, versions: readonly NewVersion[]): Json {
  const last = versions.at(-1)?.manifest ?? {};
  const meta: Json = {};
  for (const field of META_FIELDS) {
    if (field === 'maintainers') continue;
    const value = body[field] ?? last[field];
    if (value !== undefined) meta[field] = value;
  }
  return meta;
}

export interface UpdateAnalysis {
  readonly deprecations: Map<string, string | undefined>;
  readonly remove: string[];
  readonly tags: Record<string, string> | undefined;
}

/**
 * A packument PUT without attachments: `npm deprecate` (PUT /<name>) or the first step of
 * `npm unpublish <name>@<version>` (PUT /<name>/-rev/<rev>, versions missing = removed).
 */
export function analyzeUpdate(
  name: string,
  body: Json,
  liveVersions: readonly string[],
  removesMissing: boolean,
): UpdateAnalysis {
  checkBodyName(body, name);
  const versions = body['versions'];
  if (!isObject(versions))
    throw new RegistryError('BAD_REQUEST', 'packument body has no versions object');
  const deprecations = new Map<string, string | undefined>();
  const remove: string[] = [];
  for (const version of liveVersions) {
    const manifest = versions[version];
    if (manifest === undefined) {
      if (removesMissing) remove.push(version);
      continue;
    }
    if (!isObject(manifest))
      throw new RegistryError('BAD_REQUEST', `manifest of ${version} is not an object`);
    const deprecated = manifest['deprecated'];
    if (deprecated !== undefined && typeof deprecated !== 'string') {
      throw new RegistryError('BAD_REQUEST', `deprecated of ${version} must be a string`);
    }
    deprecations.set(version, deprecated);
  }
  let tags: Record<string, string> | undefined;
  const bodyTags = body['dist-tags'];
  if (removesMissing && isObject(bodyTags)) {
    tags = {};
    for (const [tag, version] of Object.entries(bodyTags)) {
      if (typeof version === 'string' && !remove.includes(version)) tags[checkTag(tag)] = version;
    }
  }
  return { deprecations, remove, tags };
}
