/**
 * The deploy guard on zip archives (`.jar`, `.war`, `.ear`, `.aar`, `.zip`): a deployed archive
 * that is empty, a web page or no whole zip is refused before anything is recorded (hosted.ts
 * `deploy`). Reads only the stored blob's start (ZIP_PREFIX_SCAN bytes) and end (ZIP_END_WINDOW
 * bytes); the zip judgement itself is zip-end.ts's.
 */
import type { Digest } from '../../core/digest.ts';
import { RegistryError } from '../../core/errors.ts';
import { MARKUP_SNIFF_BYTES, markupStart } from '../../core/markup.ts';
import { readAllBounded } from '../../core/streams.ts';
import type { BlobStore } from '../../storage/blob-store.ts';
import type { MavenFileCoordinate } from './coordinates.ts';
import {
  firstZipEntryAt,
  hasWholeZipEnd,
  startsLikeZip,
  ZIP_END_BYTES,
  ZIP_END_WINDOW,
  ZIP_PREFIX_SCAN,
  ZipEntryScanner,
} from './zip-end.ts';

/** Extensions of zip archives: a deploy of one that is empty, a web page or no zip is refused. */
export const ARCHIVE_EXTENSIONS: ReadonlySet<string> = new Set(['jar', 'war', 'ear', 'aar', 'zip']);

/** Whether `extension` (any case: `.JAR` is a jar to a file system that ignores case) is a zip archive's. */
export function isArchiveExtension(extension: string): boolean {
  return ARCHIVE_EXTENSIONS.has(extension.toLowerCase());
}

/** Whether `coordinate` is a main archive: no classifier, an archive extension. */
export function isMainArchive(coordinate: {
  readonly classifier: string;
  readonly extension: string;
}): boolean {
  return coordinate.classifier === '' && isArchiveExtension(coordinate.extension);
}

/** A body ingested into the blob store (BlobStore.ingest's answer, the part judged here). */
export interface IngestedBody {
  readonly digest: Digest;
  readonly size: number;
  /** True when the bytes were new to the store (nobody else refers to them). */
  readonly created: boolean;
}

/** A refused archive: the error to throw and a few words saying why (`no zip end record`). */
export interface ArchiveRefusal {
  readonly error: RegistryError;
  readonly why: 'empty' | 'a web page' | 'no zip end record' | 'not a zip';
}

/** A body's first bytes for a message: up to 16 as quoted text when printable, else as hex. */
function describeStart(head: Uint8Array): string {
  const first = Buffer.from(head.subarray(0, 16));
  // Text with line breaks or tabs (a launch script's `#!/bin/sh\n…`) is text: JSON shows them.
  return /^[\x20-\x7e\t\r\n]*$/.test(first.toString('latin1'))
    ? JSON.stringify(first.toString('latin1'))
    : `bytes ${first.toString('hex').replace(/(..)(?!$)/g, '$1 ')}`;
}

/**
 * The refusal (BAD_REQUEST) of a zip archive file (ARCHIVE_EXTENSIONS, classifiers included)
 * that is empty, a web page (starts with `<`, core/markup.ts) — the typical wrong deploy, `curl
 * -T` of an error page saved in place of the artifact, which every build that resolved it would
 * then fail on ("zip END header not found") — or otherwise no zip: its last 64 KiB + 22 bytes
 * hold no end record of its own (`PK\x05\x06`, its comment ending the file, its central
 * directory where it says: zip-end.ts), which every zip has, the empty zip included. A first
 * `PK` is not enough (trial 19 fmts F5): a truncated jar, or `PK\x03\x04` and garbage, would
 * become the release in maven-metadata.xml; nor is a signature near the end (trial 20 fmts F1): a
 * fat jar cut after one of the jars it stores has that jar's record. A jar with a launch script
 * before the zip, Spring Boot's "fully executable" jar, has its end record and is taken.
 * Nothing else is judged (a jar is not otherwise read). Reads ZIP_PREFIX_SCAN bytes of the start
 * and ZIP_END_WINDOW of the end of the ingested blob; and only for a file that would be taken
 * with an archive starting past its first ZIP_PREFIX_SCAN bytes, none of them a zip entry (a
 * launch script longer than 64 KiB), the bytes after them up to its first zip entry, streamed
 * (`firstEntryAfterHead`), so that a zip entry in such a prefix is seen as in a shorter one.
 *
 * Undefined when taken (or not an archive). When refused, the ingested bytes are discarded if
 * they were new to the store (`created`): nothing refers to them.
 */
export async function archiveRefusal(
  blobs: BlobStore,
  coordinate: MavenFileCoordinate,
  ingested: IngestedBody,
): Promise<ArchiveRefusal | undefined> {
  if (!isArchiveExtension(coordinate.extension)) return undefined;
  let problem: string | undefined;
  let notZip: string | undefined;
  let why: ArchiveRefusal['why'] = 'empty';
  if (ingested.size === 0) {
    problem = 'is empty (0 bytes)';
    why = 'empty';
  } else {
    // The first ZIP_PREFIX_SCAN bytes: the page sniff reads the first few; the zip check needs
    // to see whether a prefix before the archive holds a zip entry (a cut fat jar behind a
    // launch script).
    const head = await readAllBounded(
      await blobs.open(ingested.digest, {
        start: 0,
        end: Math.min(ingested.size, ZIP_PREFIX_SCAN) - 1,
      }),
      ZIP_PREFIX_SCAN,
      'file start',
    );
    const page = markupStart(head.subarray(0, MARKUP_SNIFF_BYTES));
    if (page !== undefined) {
      problem = `is a web page (it starts with ${JSON.stringify(page)})`;
      why = 'a web page';
    } else {
      const zip = await zipEnd(blobs, ingested.digest, ingested.size, head);
      if (!zip.whole) {
        const damaged = `has no zip end record: a truncated or damaged .${coordinate.extension}; nothing stored: check the file you deploy`;
        const entryAt = zip.firstEntryAt;
        const zipLike = startsLikeZip(head);
        why = zipLike || entryAt > 0 ? 'no zip end record' : 'not a zip';
        notZip = zipLike
          ? `${coordinate.path} starts with PK but ${damaged}`
          : entryAt > 0
            ? `${coordinate.path} starts with ${describeStart(head)} and holds a zip entry from byte ${entryAt} (an executable jar?) but is no whole zip (no end record of its own, or its first entry is not where the record says): a truncated or damaged .${coordinate.extension}; nothing stored: check the file you deploy`
            : `${coordinate.path} starts with ${describeStart(head)}, not a .${coordinate.extension} (a zip archive starts with PK); nothing stored: check the file you deploy`;
      }
    }
  }
  if (problem === undefined && notZip === undefined) return undefined;
  if (ingested.created) await blobs.discardCreated(ingested.digest).catch(() => false);
  const error = new RegistryError(
    'BAD_REQUEST',
    notZip ??
      `${coordinate.path} ${problem ?? ''}, not a .${coordinate.extension} (a zip archive); nothing stored: check the file you deploy (an error page saved in place of the artifact?)`,
  );
  return { error, why };
}

/**
 * Whether the last ZIP_END_WINDOW bytes of a stored file, whose first min(size,
 * ZIP_PREFIX_SCAN) bytes are `head`, hold its own zip end record (zip-end.ts `hasWholeZipEnd`),
 * and where its first zip entry is as far as searched (-1: none found), for the message.
 * When that holds with no zip entry in `head` and the file is longer (an archive after a prefix
 * longer than `head`: a long launch script, or the cut copy of a fat jar behind one, whose
 * nested jar's record would place the archive there), the check is made again knowing where the
 * file's first zip entry really is (`firstEntryAfterHead`): a prefix holding one is refused, as
 * it is within the first 64 KiB.
 */
async function zipEnd(
  blobs: BlobStore,
  digest: Digest,
  size: number,
  head: Uint8Array,
): Promise<{ whole: boolean; firstEntryAt: number }> {
  const inHead = firstZipEntryAt(head);
  if (size < ZIP_END_BYTES) return { whole: false, firstEntryAt: inHead };
  const start = Math.max(0, size - ZIP_END_WINDOW);
  const tail = await readAllBounded(
    await blobs.open(digest, { start, end: size - 1 }),
    ZIP_END_WINDOW,
    'file end',
  );
  if (!hasWholeZipEnd({ head, tail, size })) return { whole: false, firstEntryAt: inHead };
  if (inHead >= 0 || head.length >= size) return { whole: true, firstEntryAt: inHead };
  const firstEntry = await firstEntryAfterHead(blobs, digest, size, head);
  return { whole: hasWholeZipEnd({ head, tail, size, firstEntry }), firstEntryAt: firstEntry.at };
}

/**
 * Where the stored file's first zip entry is, searched from the end of `head` (which holds none)
 * on, streamed (ZipEntryScanner: constant memory) and stopped at the first one found: for a
 * whole executable jar that is right after its launch script, so the work is the script's
 * length; at most the file is read once (bounded by the deploy's own size limit). `scanned` is
 * the file's size when nothing was found.
 */
async function firstEntryAfterHead(
  blobs: BlobStore,
  digest: Digest,
  size: number,
  head: Uint8Array,
): Promise<{ at: number; scanned: number }> {
  // From 3 bytes before head's end: a signature split across that boundary is found too.
  const from = Math.max(0, head.length - 3);
  const scanner = new ZipEntryScanner(from);
  const stream = await blobs.open(digest, { start: from, end: size - 1 });
  try {
    for await (const chunk of stream as AsyncIterable<Uint8Array>) {
      if (scanner.push(chunk)) break;
    }
  } finally {
    stream.destroy();
  }
  return { at: scanner.found, scanned: scanner.found >= 0 ? scanner.scanned : size };
}
