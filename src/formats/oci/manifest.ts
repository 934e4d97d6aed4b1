/**
 * Manifest validation (pure): parses the JSON a client PUTs, checks it against its media type's
 * schema, and extracts what the registry must know — referenced blobs and child manifests (for
 * MANIFEST_BLOB_UNKNOWN), `subject` and `artifactType` (for the referrers API).
 */
import { RegistryError } from '../../core/errors.ts';
import type { Descriptor } from './backend.ts';
import { parseDigestString } from './reference.ts';

export const MEDIA_TYPES = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  ociEmpty: 'application/vnd.oci.empty.v1+json',
} as const;

/** Manifests are documents: anything larger is refused while streaming. */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

const IMAGE_TYPES = new Set<string>([MEDIA_TYPES.ociManifest, MEDIA_TYPES.dockerManifest]);
const INDEX_TYPES = new Set<string>([MEDIA_TYPES.ociIndex, MEDIA_TYPES.dockerList]);
export const MANIFEST_MEDIA_TYPES: ReadonlySet<string> = new Set([...IMAGE_TYPES, ...INDEX_TYPES]);
/** The media types whose manifests list other manifests (`manifests[]`). */
export const INDEX_MEDIA_TYPES: readonly string[] = [...INDEX_TYPES];

/** Whether a manifest of this media type is an image (config + layers), not an index. */
export function isImageManifest(mediaType: string): boolean {
  return IMAGE_TYPES.has(mediaType);
}

export interface ParsedManifest {
  readonly mediaType: string;
  /** Blobs that must be linked in the repository (config + distributable layers). */
  readonly blobs: readonly string[];
  /** Manifests an index points at (must exist under the same name). */
  readonly children: readonly string[];
  /**
   * The size each descriptor of `blobs` and `children` declares, with where it is
   * (`config`, `layers[2]`, `manifests[0]`): a push is refused when it is not the stored size,
   * as clients that check sizes (containerd, skopeo) could never pull the manifest.
   */
  readonly declaredSizes: readonly DeclaredSize[];
  readonly subject: string | undefined;
  readonly artifactType: string | undefined;
  readonly configMediaType: string | undefined;
  readonly annotations: Readonly<Record<string, string>> | undefined;
}

export interface DeclaredSize {
  readonly digest: string;
  readonly size: number;
  readonly where: string;
}

/**
 * Validates `body` as a manifest. `contentType` is the request's Content-Type (without
 * parameters), or undefined when the client sent none.
 */
export function parseManifest(body: Buffer, contentType: string | undefined): ParsedManifest {
  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch {
    throw invalid('manifest is not valid JSON');
  }
  if (!isObject(json)) throw invalid('manifest must be a JSON object');
  if (json['schemaVersion'] !== 2) throw invalid('unsupported schemaVersion (expected 2)');
  const declared = optionalString(json, 'mediaType');
  const mediaType = resolveMediaType(declared, contentType, json);
  const subject =
    json['subject'] === undefined ? undefined : descriptor(json['subject'], 'subject').digest;
  const annotations = stringMap(json['annotations'], 'annotations');
  const artifactType = optionalString(json, 'artifactType');
  if (IMAGE_TYPES.has(mediaType)) {
    const config = descriptor(json['config'], 'config');
    const layers = descriptorList(json['layers'], 'layers');
    const blobs = [config.digest, ...layers.filter((l) => isDistributable(l)).map((l) => l.digest)];
    const declaredSizes: DeclaredSize[] = [
      { digest: config.digest, size: config.size, where: 'config' },
    ];
    layers.forEach((l, i) => {
      if (isDistributable(l))
        declaredSizes.push({ digest: l.digest, size: l.size, where: `layers[${i}]` });
    });
    return {
      mediaType,
      blobs,
      children: [],
      declaredSizes,
      subject,
      artifactType: artifactType ?? config.mediaType,
      configMediaType: config.mediaType,
      annotations,
    };
  }
  const manifests = descriptorList(json['manifests'], 'manifests');
  return {
    mediaType,
    blobs: [],
    children: manifests.map((m) => m.digest),
    declaredSizes: manifests.map((m, i) => ({
      digest: m.digest,
      size: m.size,
      where: `manifests[${i}]`,
    })),
    subject,
    artifactType,
    configMediaType: undefined,
    annotations,
  };
}

function resolveMediaType(
  declared: string | undefined,
  contentType: string | undefined,
  json: Record<string, unknown>,
): string {
  const header =
    contentType !== undefined && MANIFEST_MEDIA_TYPES.has(contentType) ? contentType : undefined;
  if (declared !== undefined) {
    if (!MANIFEST_MEDIA_TYPES.has(declared))
      throw invalid(`unsupported manifest media type ${declared}`);
    if (header !== undefined && header !== declared) {
      throw invalid(`Content-Type ${header} does not match the manifest's mediaType ${declared}`);
    }
    return declared;
  }
  if (header !== undefined) return header;
  // OCI manifests may omit mediaType; infer from shape as the image-spec allows.
  if (Array.isArray(json['manifests'])) return MEDIA_TYPES.ociIndex;
  if (isObject(json['config'])) return MEDIA_TYPES.ociManifest;
  throw invalid('cannot tell the manifest media type (no mediaType and no known Content-Type)');
}

/** Non-distributable ("foreign") layers are fetched from their URLs, not from the registry. */
function isDistributable(layer: Descriptor & { readonly urls?: unknown }): boolean {
  return !layer.mediaType.includes('nondistributable') && !layer.mediaType.includes('foreign');
}

function descriptor(value: unknown, where: string): Descriptor {
  if (!isObject(value)) throw invalid(`${where} must be a descriptor object`);
  const mediaType = value['mediaType'];
  const digest = value['digest'];
  const size = value['size'];
  if (typeof mediaType !== 'string' || mediaType === '')
    throw invalid(`${where}.mediaType is required`);
  if (typeof digest !== 'string') throw invalid(`${where}.digest is required`);
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0)
    throw invalid(`${where}.size must be a non-negative integer`);
  let canonical: string;
  try {
    canonical = parseDigestString(digest);
  } catch {
    throw invalid(`${where}.digest is not a valid digest`);
  }
  const artifactType = value['artifactType'];
  const annotations = stringMap(value['annotations'], `${where}.annotations`);
  return {
    mediaType,
    digest: canonical,
    size,
    ...(typeof artifactType === 'string' ? { artifactType } : {}),
    ...(annotations ? { annotations } : {}),
  };
}

function descriptorList(value: unknown, where: string): Descriptor[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw invalid(`${where} must be an array`);
  return value.map((item: unknown, index) => descriptor(item, `${where}[${index}]`));
}

function stringMap(value: unknown, where: string): Record<string, string> | undefined {
  if (value === undefined || value === null) return undefined;
  if (!isObject(value)) throw invalid(`${where} must be an object of strings`);
  for (const item of Object.values(value)) {
    if (typeof item !== 'string') throw invalid(`${where} must be an object of strings`);
  }
  return value as Record<string, string>;
}

function optionalString(json: Record<string, unknown>, key: string): string | undefined {
  const value = json[key];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw invalid(`${key} must be a string`);
  return value;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function invalid(message: string): RegistryError {
  return new RegistryError('MANIFEST_INVALID', message, { protocolCode: 'MANIFEST_INVALID' });
}
