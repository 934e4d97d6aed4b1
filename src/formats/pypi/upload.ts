/**
 * The legacy upload API (what twine, poetry and pdm send; Warehouse's `forklift`): a
 * `multipart/form-data` POST with `:action=file_upload`, `protocol_version=1`, the file as the
 * `content` part and core-metadata fields (`name`, `version`, `filetype`, `pyversion`,
 * `sha256_digest`, `md5_digest`, `blake2_256_digest`, `summary`, `requires_python`, …) before or
 * after it.
 *
 * The file streams to a spool file while sha256, md5 and BLAKE2b-256 are computed; small fields
 * are buffered (bounded in count and bytes). Only after the whole body arrived are the fields, the
 * digests, the filename (project and version against `name` and `version`), the file type and, for
 * a wheel, its METADATA checked, and the archive read whole (archive-check.ts: truncated or
 * corrupt archives refused, bounded); then the file is committed to the blob store, its METADATA
 * stored as a blob of its own (PEP 658), and the rows written in one transaction. Any refusal before that
 * leaves nothing behind. Errors are RegistryErrors with a one-line PyPI-style message (the routes
 * use it as the body and the HTTP reason phrase).
 */
import { createHash, type Hash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { blake2b } from '@noble/hashes/blake2.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import busboy from 'busboy';
import { errnoCode, RegistryError } from '../../core/errors.ts';
import { discard } from '../../core/streams.ts';
import type { BlobStore } from '../../storage/blob-store.ts';
import { checkTarGz, checkZip } from './archive-check.ts';
import { readWheelCoreMetadata } from './core-metadata.ts';
import {
  checkDistFilename,
  isSafeFilename,
  parseDistFilename,
  type DistFilename,
} from './filenames.ts';
import { isValidProjectName, normalizeProjectName } from './names.ts';
import {
  fileExistsError,
  filenameUsedError,
  sameDistributionError,
  type PypiStore,
  type ReleaseMeta,
} from './store.ts';
import { isSpecifierSet, parseVersion } from './versions.ts';

/** One field's value; a README `description` is the largest real one. */
export const MAX_FIELD_BYTES = 4 * 1024 * 1024;
/** All fields together. */
export const MAX_FIELDS_TOTAL_BYTES = 8 * 1024 * 1024;
/** Fields (repeated ones, e.g. `classifiers`, count once per value). */
export const MAX_FIELDS = 1000;
const MAX_REQUIRES_PYTHON = 1000;

/** Repeated form fields kept as lists in the release metadata (Warehouse's `info`). */
const LIST_FIELDS = [
  'classifiers',
  'requires_dist',
  'provides_dist',
  'obsoletes_dist',
  'requires_external',
  'project_urls',
  'provides_extra',
  'dynamic',
  'platform',
  'supported_platform',
  'license_file',
] as const;
/** Single form fields kept in the release metadata. */
const TEXT_FIELDS = [
  'metadata_version',
  'summary',
  'description',
  'description_content_type',
  'author',
  'author_email',
  'maintainer',
  'maintainer_email',
  'license',
  'license_expression',
  'keywords',
  'home_page',
  'download_url',
  'requires_python',
] as const;

export interface UploadLimits {
  /** Largest file, bytes ([pypi] max_upload_mb); past it the upload fails with 413. */
  readonly maxFileBytes: number;
  /**
   * Called with the normalised project as soon as the form names it (while the body streams
   * when `name` precedes `content`, as twine sends it), and again before anything is stored;
   * throws (UNAUTHORIZED/DENIED) to refuse.
   */
  readonly authorize?: ((project: string) => void) | undefined;
  /**
   * Awaited with the normalised project once the form is read and `authorize` passed, before
   * anything is stored; rejects to refuse (a group's second project of a name: 409).
   */
  readonly admit?: ((project: string) => Promise<void>) | undefined;
  /**
   * The refusal of a caller who may not write the repository as a whole (a user without the
   * role, whom a rule may still refuse or allow per project): the form is read only up to the
   * `name` field, so `authorize` refuses naming the project (`bob may not write corp-pkg in
   * pypi (a rule on its member pypi-hosted owns it)`); a `content` part before `name`, or a form
   * without one, is refused with this error before any file byte is spooled.
   */
  readonly refused?: RegistryError | undefined;
}

export interface UploadResult {
  /** Normalised. */
  readonly project: string;
  readonly filename: string;
  /** The release the file belongs to, as its first file spelled the version. */
  readonly version: string;
  readonly sha256: string;
  readonly size: number;
  /**
   * true when this exact file (same name, same sha256) was already there: nothing was written
   * and the upload succeeds, as PyPI answers an identical re-upload.
   */
  readonly duplicate: boolean;
}

interface SpooledFile {
  readonly filename: string;
  readonly path: string;
  readonly size: number;
  readonly sha256: string;
  readonly md5: string;
  readonly blake2_256: string;
}

interface ReceivedForm {
  readonly fields: ReadonlyMap<string, readonly string[]>;
  readonly file: SpooledFile | undefined;
}

function bad(message: string): RegistryError {
  return new RegistryError('BAD_REQUEST', message);
}

/**
 * Receives one legacy-API upload into `repo` and stores it. `contentType` is the request's
 * Content-Type header, `body` the request body stream (read to its end unless refused).
 * Throws RegistryError: 400 for a malformed or truncated form, missing or invalid fields, a
 * digest mismatch, a filename that does not parse or does not match `name`/`version`, a local
 * version, an invalid wheel (no METADATA, zip bomb), an existing filename with other content
 * ("File already exists ('<filename>')"), another spelling of a distribution the release has (a
 * wheel whose normalised project, version and tags equal a stored one's, a second sdist: "File
 * already exists ('<existing filename>'): …"); 413 past `limits.maxFileBytes`; 415 for a body that is
 * not multipart/form-data.
 */
export async function receiveUpload(
  blobs: BlobStore,
  store: PypiStore,
  repo: string,
  uploader: string | undefined,
  contentType: string | undefined,
  body: Readable,
  limits: UploadLimits,
): Promise<UploadResult> {
  const spool = await blobs.spoolPath('pypi-upload');
  try {
    const form = await readForm(contentType, body, spool, limits);
    return await storeUpload(blobs, store, repo, uploader, form, limits.authorize, limits.admit);
  } finally {
    await fs.rm(spool, { force: true });
  }
}

/** Streams the multipart body: fields into memory (bounded), `content` into `spool`. */
async function readForm(
  contentType: string | undefined,
  body: Readable,
  spool: string,
  limits: UploadLimits,
): Promise<ReceivedForm> {
  if (contentType === undefined || !/^multipart\/form-data\s*(?:;|$)/i.test(contentType)) {
    throw new RegistryError(
      'UNSUPPORTED_MEDIA_TYPE',
      'upload must be multipart/form-data (the legacy upload API)',
    );
  }
  let parser: busboy.Busboy;
  try {
    parser = busboy({
      headers: { 'content-type': contentType },
      preservePath: true,
      limits: {
        fieldNameSize: 200,
        fieldSize: MAX_FIELD_BYTES,
        fields: MAX_FIELDS,
        files: 2,
        parts: MAX_FIELDS + 2,
        fileSize: limits.maxFileBytes,
        headerPairs: 20,
      },
    });
  } catch (err) {
    throw bad(`invalid multipart/form-data request: ${(err as Error).message}`);
  }
  const fields = new Map<string, string[]>();
  let fieldBytes = 0;
  // Set from the parser's callbacks (a holder, so the checks after `await` are not narrowed away).
  const state: { failure?: RegistryError; fileDone?: Promise<SpooledFile>; spoolError?: unknown } =
    {};
  const fail = (err: RegistryError): void => {
    state.failure ??= err;
    parser.destroy(state.failure);
  };

  parser.on('field', (name: string | undefined, value, info) => {
    // A part without `name=` in its Content-Disposition: busboy hands it over unnamed.
    if (typeof name !== 'string' || name === '') {
      fail(bad('a form part has no name'));
      return;
    }
    if (info.nameTruncated) {
      fail(bad('a form field name is too long'));
      return;
    }
    if (info.valueTruncated) {
      fail(bad(`form field ${name} is longer than ${MAX_FIELD_BYTES} bytes`));
      return;
    }
    fieldBytes += Buffer.byteLength(name) + Buffer.byteLength(value);
    if (fieldBytes > MAX_FIELDS_TOTAL_BYTES) {
      fail(bad(`form fields exceed ${MAX_FIELDS_TOTAL_BYTES} bytes in all`));
      return;
    }
    if (name === 'name' && limits.authorize !== undefined && isValidProjectName(value.trim())) {
      try {
        limits.authorize(normalizeProjectName(value.trim()));
      } catch (err) {
        fail(err instanceof RegistryError ? err : new RegistryError('DENIED', String(err)));
        return;
      }
    }
    const list = fields.get(name);
    if (list) list.push(value);
    else fields.set(name, [value]);
  });
  parser.on('file', (name, stream, info) => {
    if (limits.refused !== undefined) {
      // A caller refused on the repository: no file byte is read before the project is named.
      discard(stream);
      fail(limits.refused);
      return;
    }
    if (name !== 'content') {
      // `gpg_signature` (PyPI ignores signatures now) or anything else: discarded.
      discard(stream);
      return;
    }
    if (state.fileDone !== undefined) {
      discard(stream);
      fail(bad('more than one content part'));
      return;
    }
    stream.on('limit', () => {
      fail(
        new RegistryError(
          'TOO_LARGE',
          `File too large. Limit for this repository is ${Math.floor(limits.maxFileBytes / (1024 * 1024))} MB (${limits.maxFileBytes} bytes)`,
        ),
      );
    });
    const done = spoolFile(info.filename, stream, spool);
    // Observed after the body is read; never an unhandled rejection meanwhile. A spool write that
    // fails (ENOSPC, EIO) destroys busboy's file stream, and busboy then waits forever for it to
    // be read: stop the parser too, so the body's pipeline ends and the request is answered.
    done.catch((err: unknown) => {
      state.spoolError ??= err;
      parser.destroy(err instanceof Error ? err : new Error(String(err)));
    });
    state.fileDone = done;
  });
  parser.on('fieldsLimit', () => {
    fail(bad(`more than ${MAX_FIELDS} form fields`));
  });
  parser.on('partsLimit', () => {
    fail(bad(`more than ${MAX_FIELDS + 2} form parts`));
  });
  parser.on('filesLimit', () => {
    fail(bad('more than one content part'));
  });

  try {
    // Read through an iterator that leaves the request stream alone when the parser gives up:
    // a destroyed request is detached from its socket, and the refusal's lingering close
    // (http/refusal.ts) and the access line need it (trial 13 F11).
    await pipeline(body.iterator({ destroyOnReturn: false }), parser);
  } catch (err) {
    throw state.failure ?? formError(state.spoolError ?? err);
  }
  if (state.failure) throw state.failure;
  if (limits.refused !== undefined) throw limits.refused;
  let file: SpooledFile | undefined;
  if (state.fileDone !== undefined) {
    try {
      file = await state.fileDone;
    } catch (err) {
      // A limit hit while the file was streaming is the reason; the file's own error follows it.
      throw currentFailure(state) ?? formError(err);
    }
  }
  return { fields, file };
}

/** The METADATA file of the spooled wheel `file` (PEP 658 core metadata). */
function wheelMetadata(file: SpooledFile): Promise<Buffer> {
  return readWheelCoreMetadata(file.filename, file.size, (start, end) =>
    Promise.resolve(
      end > start
        ? createReadStream(file.path, { start, end: end - 1 })
        : Readable.from([] as Buffer[]),
    ),
  );
}

function currentFailure(state: { failure?: RegistryError }): RegistryError | undefined {
  return state.failure;
}

/** Busboy's own errors (truncated form, malformed headers) and an aborted body are 400s. */
function formError(err: unknown): unknown {
  if (err instanceof RegistryError) return err;
  const code = errnoCode(err);
  if (code !== undefined && /^E(?!CONNRESET|CONNABORTED)[A-Z]+$/.test(code) && code !== 'EPIPE') {
    // The file system (ENOSPC, EIO, …): ours, not the client's.
    return err;
  }
  const message = err instanceof Error ? err.message : String(err);
  return bad(`truncated or malformed multipart/form-data body (${message})`);
}

async function spoolFile(
  rawFilename: string | undefined,
  stream: Readable,
  spool: string,
): Promise<SpooledFile> {
  const sha256 = createHash('sha256');
  const md5 = createHash('md5');
  // PyPI's blake2_256 is BLAKE2b with a 32-byte digest, which node:crypto cannot make (its
  // blake2b512 has a fixed length and a different output).
  const blake = blake2b.create({ dkLen: 32 });
  let size = 0;
  const tap = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      size += chunk.length;
      sha256.update(chunk);
      md5.update(chunk);
      blake.update(chunk);
      callback(null, chunk);
    },
  });
  await pipeline(stream, tap, createWriteStream(spool, { flags: 'wx' }));
  return {
    filename: rawFilename ?? '',
    path: spool,
    size,
    sha256: hex(sha256),
    md5: hex(md5),
    blake2_256: bytesToHex(blake.digest()),
  };
}

function hex(hash: Hash): string {
  return hash.digest('hex');
}

function single(fields: ReadonlyMap<string, readonly string[]>, name: string): string | undefined {
  const values = fields.get(name);
  if (values === undefined || values.length === 0) return undefined;
  if (values.length > 1) throw bad(`form field ${name} given more than once`);
  return values[0];
}

function required(fields: ReadonlyMap<string, readonly string[]>, name: string): string {
  const value = single(fields, name)?.trim();
  if (value === undefined || value === '') throw bad(`${name}: This field is required.`);
  return value;
}

/** Every check on the received form, then the blob commit and the rows. */
async function storeUpload(
  blobs: BlobStore,
  store: PypiStore,
  repo: string,
  uploader: string | undefined,
  form: ReceivedForm,
  authorize: ((project: string) => void) | undefined,
  admit?: (project: string) => Promise<void>,
): Promise<UploadResult> {
  const { fields, file } = form;
  const action = single(fields, ':action');
  if (action === undefined) throw bad(':action: This field is required.');
  if (action !== 'file_upload') throw bad(`Unknown :action ${JSON.stringify(action.slice(0, 50))}`);
  const protocol = single(fields, 'protocol_version');
  if (protocol !== undefined && protocol !== '1') {
    throw bad(`Unknown protocol_version ${JSON.stringify(protocol.slice(0, 20))}`);
  }
  const name = required(fields, 'name');
  if (!isValidProjectName(name)) {
    throw bad(
      `Invalid value for name: ${JSON.stringify(name.slice(0, 220))} (PEP 508: letters, digits, ".", "_", "-", starting and ending with a letter or digit)`,
    );
  }
  const project = normalizeProjectName(name);
  authorize?.(project);
  const versionField = required(fields, 'version');
  const version = parseVersion(versionField);
  if (version === undefined) {
    throw bad(
      `Invalid version: ${JSON.stringify(versionField.slice(0, 140))} is not a PEP 440 version`,
    );
  }
  if (version.local) {
    throw bad(`Can't use PEP 440 local versions (${versionField}) on this repository`);
  }
  const filetype = required(fields, 'filetype');
  if (file === undefined) throw bad('content: Upload a valid file (the content part is missing).');

  if (!isSafeFilename(file.filename)) {
    throw bad(
      `Invalid filename: ${JSON.stringify(file.filename.slice(0, 300))} (a plain file name, no path)`,
    );
  }
  // With the name first (it settles where an sdist's name ends), else without it, so a file of
  // another project is reported as such rather than as unparsable.
  const dist = parseDistFilename(file.filename, name) ?? checkDistFilename(file.filename);
  checkFiletype(dist, filetype);
  if (dist.project !== project) {
    throw bad(
      `Start filename for project ${JSON.stringify(name)} with ${JSON.stringify(name.replace(/[-.]+/g, '_'))} (the filename ${file.filename} names project ${dist.project})`,
    );
  }
  if (dist.parsed.key !== version.key) {
    throw bad(
      `Version in filename should be ${JSON.stringify(versionField)}, not ${JSON.stringify(dist.version)} (${file.filename})`,
    );
  }
  checkDigests(fields, file);

  const formRequiresPython = single(fields, 'requires_python')?.trim();
  checkRequiresPython(formRequiresPython, 'requires_python');
  // A well-formed upload: what the caller decides of the project itself (a group's rule).
  await admit?.(project);

  if (await store.filenameDeleted(repo, file.filename)) throw filenameUsedError(file.filename);
  const existing = await store.file(repo, project, file.filename);
  if (existing !== undefined || (await store.fileExists(repo, file.filename))) {
    if (existing?.sha256 === file.sha256) {
      // The same bytes again: stored again when they are missing (a blob removed after failing
      // its integrity check, docs/storage.md), so the publisher's re-upload repairs the file.
      // The spool's sha256 was computed over exactly these bytes while they were received.
      // Its core metadata first: committing consumes the spool file.
      if (existing.metadata !== undefined && dist.kind === 'wheel') {
        await blobs.ingest(Readable.from([await wheelMetadata(file)]), {
          expected: { algorithm: 'sha256', hex: existing.metadata.sha256 },
        });
      }
      await blobs.commitFile(file.path, { algorithm: 'sha256', hex: file.sha256 }, file.size);
      return {
        project,
        filename: file.filename,
        version: existing.version,
        sha256: file.sha256,
        size: file.size,
        duplicate: true,
      };
    }
    throw fileExistsError(file.filename);
  }
  // Another spelling of a file the release has (`My_Pkg-1.0-…whl` after `my_pkg-1.0.0-…whl`, a
  // second sdist): pip would see two candidates for one distribution and pick by its own
  // ordering, so what `pkg==1.0` installs would change after the release. Refused whatever the
  // bytes; store.addFile checks again in its transaction for concurrent uploads.
  const same = await store.sameDistribution(repo, project, version.key, dist.identity);
  if (same !== undefined) throw sameDistributionError(file.filename, same, dist.kind);

  let requiresPython = formRequiresPython;
  let metadata: Buffer | undefined;
  if (dist.kind === 'wheel') {
    metadata = await wheelMetadata(file);
    checkWheelMetadata(metadata, dist);
    // A form without `requires_python` (a hand-made upload: curl, a script) takes the wheel's
    // own: the `.metadata` file pip may read says it anyway, and the simple page's
    // `data-requires-python` is what pip checks before it downloads anything.
    if (formRequiresPython === undefined || formRequiresPython === '') {
      requiresPython = metadataHeaders(metadata).get('requires-python');
      checkRequiresPython(requiresPython, 'METADATA Requires-Python');
    }
    // The whole archive, not only its METADATA: a wheel cut short or corrupt past its central
    // directory's answers would be served to every pip (bounded: archive-check.ts).
    await checkZip(file.path, file.size, file.filename, 'wheel');
  } else {
    await checkSdistMagic(file, dist);
    if (dist.filename.endsWith('.zip'))
      await checkZip(file.path, file.size, file.filename, 'sdist');
    else await checkTarGz(file.path, file.size, file.filename);
  }

  // Verified: the bytes become visible, then the rows that point at them.
  await blobs.commitFile(file.path, { algorithm: 'sha256', hex: file.sha256 }, file.size);
  let metadataRef: { blob: string; sha256: string; size: number } | undefined;
  if (metadata !== undefined) {
    const stored = await blobs.ingest(Readable.from([metadata]));
    metadataRef = {
      blob: `sha256:${stored.digest.hex}`,
      sha256: stored.digest.hex,
      size: stored.size,
    };
  }
  const written = await store
    .addFile(repo, {
      project,
      displayName: name,
      filename: file.filename,
      versionKey: version.key,
      version: dist.version,
      packagetype: filetype,
      pythonVersion: single(fields, 'pyversion')?.trim() || (dist.kind === 'sdist' ? 'source' : ''),
      sha256: file.sha256,
      md5: file.md5,
      blake2_256: file.blake2_256,
      size: file.size,
      blob: `sha256:${file.sha256}`,
      requiresPython: requiresPython === '' ? undefined : requiresPython,
      metadata: metadataRef,
      uploader,
      meta: releaseMeta(fields, requiresPython),
      distKey: dist.identity,
    })
    .catch(async (err: unknown) => {
      // An identical upload committed between our check above and our insert (parallel CI
      // jobs, a client retrying while the first attempt is still running): the same bytes,
      // so the same answer as a sequential retry gets (200), not "File already exists".
      if (!(err instanceof RegistryError) || err.protocolCode !== 'FILE_EXISTS') throw err;
      const winner = await store.file(repo, project, file.filename);
      if (winner?.sha256 !== file.sha256) throw err;
      return { release: winner.version, duplicate: true as const };
    });
  return {
    project,
    filename: file.filename,
    version: written.release,
    sha256: file.sha256,
    size: file.size,
    duplicate: 'duplicate' in written,
  };
}

/** A `Requires-Python` specifier set (`source` names where it came from), else 400. */
function checkRequiresPython(value: string | undefined, source: string): void {
  if (value === undefined) return;
  if (value.length > MAX_REQUIRES_PYTHON) {
    throw bad(`${source} is longer than ${MAX_REQUIRES_PYTHON} characters`);
  }
  // What the public index refuses too: pip would ignore a specifier it cannot parse.
  if (!isSpecifierSet(value)) {
    throw bad(
      `Invalid value for ${source}. Error: ${JSON.stringify(value)} is not a valid PEP 440 specifier set`,
    );
  }
}

function checkFiletype(dist: DistFilename, filetype: string): void {
  const expected = dist.kind === 'wheel' ? 'bdist_wheel' : 'sdist';
  if (filetype === expected) return;
  if (filetype !== 'bdist_wheel' && filetype !== 'sdist') {
    throw bad(
      `Unknown type of file: filetype ${JSON.stringify(filetype.slice(0, 40))} (only sdist and bdist_wheel are accepted)`,
    );
  }
  throw bad(`Invalid filetype ${filetype} for ${dist.filename} (expected ${expected})`);
}

/** PyPI wants at least one of md5/sha256; every digest given must match. */
function checkDigests(fields: ReadonlyMap<string, readonly string[]>, file: SpooledFile): void {
  const given = {
    sha256: single(fields, 'sha256_digest')?.trim().toLowerCase(),
    md5: single(fields, 'md5_digest')?.trim().toLowerCase(),
    blake2_256: single(fields, 'blake2_256_digest')?.trim().toLowerCase(),
  };
  if (!given.sha256 && !given.md5 && !given.blake2_256) {
    throw bad(
      'Include at least one message digest (sha256_digest, md5_digest or blake2_256_digest).',
    );
  }
  for (const [alg, value] of Object.entries(given)) {
    if (!value) continue;
    const actual = file[alg as keyof typeof given];
    if (value !== actual) {
      throw bad(
        `digest mismatch: ${alg}_digest ${JSON.stringify(value.slice(0, 130))} does not match the uploaded file (${alg} ${actual})`,
      );
    }
  }
}

/** The Name and Version headers of a METADATA file must be the wheel filename's. */
function checkWheelMetadata(metadata: Buffer, dist: DistFilename): void {
  const headers = metadataHeaders(metadata);
  const metaName = headers.get('name');
  const metaVersion = headers.get('version');
  if (metaName === undefined || metaVersion === undefined) {
    throw bad(`invalid wheel: ${dist.filename} METADATA has no Name or Version`);
  }
  if (normalizeProjectName(metaName) !== dist.project) {
    throw bad(
      `invalid wheel: METADATA names project ${JSON.stringify(metaName.slice(0, 220))}, the filename ${dist.filename}`,
    );
  }
  if (parseVersion(metaVersion)?.key !== dist.parsed.key) {
    throw bad(
      `invalid wheel: METADATA has version ${JSON.stringify(metaVersion.slice(0, 140))}, the filename ${dist.version}`,
    );
  }
}

/** The first value of each header of an email-style METADATA file (lowercased names). */
export function metadataHeaders(metadata: Buffer): Map<string, string> {
  const headers = new Map<string, string>();
  const text = metadata.toString('utf8');
  for (const line of text.split(/\r?\n/)) {
    if (line === '') break;
    if (/^[ \t]/.test(line)) continue;
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const key = line.slice(0, colon).trim().toLowerCase();
    if (!headers.has(key)) headers.set(key, line.slice(colon + 1).trim());
  }
  return headers;
}

/** An sdist must at least be the archive its name says (gzip or zip). */
async function checkSdistMagic(file: SpooledFile, dist: DistFilename): Promise<void> {
  const handle = await fs.open(file.path, 'r');
  const head = Buffer.alloc(4);
  try {
    await handle.read(head, 0, 4, 0);
  } finally {
    await handle.close();
  }
  const gzip = head[0] === 0x1f && head[1] === 0x8b;
  const zip = head.readUInt32LE(0) === 0x04034b50;
  const ok = dist.filename.endsWith('.zip') ? zip : gzip;
  if (!ok) {
    throw bad(
      `invalid sdist: ${dist.filename} is not a ${dist.filename.endsWith('.zip') ? 'zip' : 'gzip'} archive`,
    );
  }
}

/**
 * The release metadata of the form's fields; `requiresPython` is the file's (the form's, else its
 * wheel's METADATA).
 */
function releaseMeta(
  fields: ReadonlyMap<string, readonly string[]>,
  requiresPython: string | undefined,
): ReleaseMeta {
  const meta: Record<string, string | readonly string[]> = {};
  for (const name of TEXT_FIELDS) {
    const value = fields.get(name)?.[0];
    if (value !== undefined && value !== '') meta[name] = value;
  }
  if (
    meta['requires_python'] === undefined &&
    requiresPython !== undefined &&
    requiresPython !== ''
  )
    meta['requires_python'] = requiresPython;
  for (const name of LIST_FIELDS) {
    const values = fields.get(name)?.filter((v) => v !== '');
    if (values !== undefined && values.length > 0) meta[name] = values;
  }
  return meta;
}
