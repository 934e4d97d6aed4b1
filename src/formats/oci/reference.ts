/**
 * The distribution-spec grammars for repository names, tags and references. Every name, tag and
 * digest that arrives on the wire passes through here (via paths.ts or the query string).
 */
import { formatDigest, parseDigest } from '../../core/digest.ts';
import { RegistryError } from '../../core/errors.ts';

/** `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*`, any depth. */
const NAME_COMPONENT = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$/;
const TAG = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;
/** Distribution's bound on a full name; keeps rows and URLs sane. */
export const MAX_NAME_LENGTH = 255;

export type Reference =
  | { readonly kind: 'tag'; readonly tag: string }
  | { readonly kind: 'digest'; readonly digest: string };

export function isValidName(name: string): boolean {
  if (name.length === 0 || name.length > MAX_NAME_LENGTH) return false;
  return name.split('/').every((component) => NAME_COMPONENT.test(component));
}

export function isValidTag(tag: string): boolean {
  return TAG.test(tag);
}

export function parseName(name: string): string {
  if (!isValidName(name)) {
    throw new RegistryError('NAME_INVALID', `invalid repository name: ${truncate(name)}`, {
      protocolCode: 'NAME_INVALID',
      detail: { name: truncate(name) },
    });
  }
  return name;
}

/** A canonical digest string, or DIGEST_INVALID (400). */
export function parseDigestString(value: string): string {
  return formatDigest(parseDigest(value));
}

/** `<tag>` or `<algorithm>:<encoded>`; a colon means the caller meant a digest. */
export function parseReference(value: string): Reference {
  if (value.includes(':')) return { kind: 'digest', digest: parseDigestString(value) };
  if (!isValidTag(value)) {
    throw new RegistryError('MANIFEST_INVALID', `invalid tag: ${truncate(value)}`, {
      protocolCode: 'MANIFEST_INVALID',
      detail: { tag: truncate(value) },
    });
  }
  return { kind: 'tag', tag: value };
}

export function referenceText(reference: Reference): string {
  return reference.kind === 'tag' ? reference.tag : reference.digest;
}

function truncate(value: string): string {
  return value.length > 140 ? `${value.slice(0, 140)}…` : value;
}
