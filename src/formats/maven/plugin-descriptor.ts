/**
 * A Maven plugin's declared goal prefix, read from its jar's `META-INF/maven/plugin.xml` (the
 * descriptor maven-plugin-plugin generates): `<goalPrefix>` and the plugin's `<name>`. Maven's
 * own group-level `maven-metadata.xml` (`<plugins><plugin><prefix>`) is written from it, and
 * real plugins declare prefixes their artifactId does not give (gmavenplus-plugin → `gplus`,
 * pitest-maven → `pitest`), so NORA reads it at deploy rather than guessing.
 *
 * Bounded whatever the jar claims: the zip's central directory is read through ranged reads of
 * the stored blob (yauzl), at most MAX_ENTRIES entries are looked at, and only the descriptor's
 * head (what comes before `<mojos>`, within HEAD_BYTES) is inflated and parsed (fast-xml-parser,
 * entities off, DOCTYPE refused). Anything wrong — not a zip, no descriptor, a bad one —
 * answers undefined: the caller falls back to the artifactId rule and the deploy never fails.
 */
import type { Readable } from 'node:stream';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import yauzl from 'yauzl';
import { RangeReader, type RangeOpener } from '../../core/zip-range.ts';
import { decodeText } from './metadata.ts';

export type { RangeOpener } from '../../core/zip-range.ts';

/** What a plugin descriptor declares. */
export interface PluginDescriptor {
  readonly goalPrefix: string | undefined;
  readonly name: string | undefined;
}

/** Entries of the central directory looked at, at most (real plugin jars: hundreds). */
const MAX_ENTRIES = 100_000;
/** Bytes of the descriptor inflated, at most: its head (name, goalPrefix) comes before `<mojos>`. */
const HEAD_BYTES = 256 * 1024;
/** Where maven-plugin-plugin writes the descriptor. */
const DESCRIPTOR = 'META-INF/maven/plugin.xml';
/** A goal prefix Maven can be asked for on the command line (`prefix:goal`). */
const PREFIX = /^[A-Za-z0-9_.-]{1,128}$/;

const parser = new XMLParser({
  processEntities: false,
  ignoreAttributes: true,
  ignoreDeclaration: true,
  ignorePiTags: true,
  parseTagValue: false,
  commentPropName: false,
});

/**
 * The descriptor of the plugin jar `size` bytes long read through `open`, or undefined when the
 * jar has none or it cannot be read (see the module comment). Never throws.
 */
export async function readPluginDescriptor(
  size: number,
  open: RangeOpener,
): Promise<PluginDescriptor | undefined> {
  let zip: yauzl.ZipFile | undefined;
  try {
    zip = await yauzl.fromRandomAccessReaderPromise(new RangeReader(open), size, {
      lazyEntries: true,
      autoClose: false,
      strictFileNames: false,
      validateEntrySizes: true,
    });
    if (zip.entryCount > MAX_ENTRIES) return undefined;
    let seen = 0;
    for await (const entry of zip.eachEntry()) {
      if (++seen > MAX_ENTRIES) return undefined;
      if (entry.fileName !== DESCRIPTOR) continue;
      const head = await readHead(await zip.openReadStreamPromise(entry));
      return head === undefined ? undefined : parseDescriptorHead(head);
    }
    return undefined;
  } catch {
    return undefined;
  } finally {
    zip?.close();
  }
}

/** The first HEAD_BYTES of `stream` (then destroyed), as text. */
async function readHead(stream: Readable): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let length = 0;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      chunks.push(chunk);
      length += chunk.length;
      if (length >= HEAD_BYTES) break;
    }
  } finally {
    stream.destroy();
  }
  return Buffer.concat(chunks).subarray(0, HEAD_BYTES).toString('utf8');
}

/**
 * `goalPrefix` and `name` of a descriptor's text (or its head): only what comes before `<mojos`
 * is parsed (the mojos' own `<name>`s are parameters). Undefined when it is not a `<plugin>`
 * document, has a DOCTYPE, or its head is not well-formed.
 */
export function parseDescriptorHead(text: string): PluginDescriptor | undefined {
  if (/<!(DOCTYPE|ENTITY)/i.test(text)) return undefined;
  const cut = text.search(/<mojos[\s/>]/);
  const head = cut < 0 ? text : `${text.slice(0, cut)}</plugin>`;
  // The validator that ships with fast-xml-parser 5 (as hosted.ts uses for POMs).
  // eslint-disable-next-line @typescript-eslint/no-deprecated
  if (XMLValidator.validate(head) !== true) return undefined;
  let doc: Record<string, unknown>;
  try {
    doc = parser.parse(head) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  const plugin = doc['plugin'];
  if (typeof plugin !== 'object' || plugin === null || Array.isArray(plugin)) return undefined;
  const fields = plugin as Record<string, unknown>;
  const prefix = text1(fields['goalPrefix']);
  const name = text1(fields['name']);
  return {
    goalPrefix: prefix !== undefined && PREFIX.test(prefix) ? prefix : undefined,
    name: name === undefined ? undefined : decodeText(name).slice(0, 512) || undefined,
  };
}

function text1(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const trimmed = value.trim();
  return trimmed === '' ? undefined : trimmed;
}
