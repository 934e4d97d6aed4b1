/**
 * Validation of a module zip file as golang.org/x/mod/zip (CheckZip, "Module zip files" in the
 * Go modules reference) defines it, before a hosted repository stores one:
 *
 * - every entry is `<module>@<version>/<file path>` (directories may appear and are ignored);
 *   the file path is clean and passes module.ts checkFilePath;
 * - no two entries equal under case folding, no entry both a file and a directory;
 * - `go.mod` only at the root and spelled exactly so (a go.mod deeper down is a nested module);
 *   no files of vendored packages (`vendor/<dir>/…`; `vendor/modules.txt` is fine), which the
 *   `go` command never puts in a module zip;
 * - regular files only: a Unix mode in the external attributes that is a symbolic link (or any
 *   other non-regular type) is refused;
 * - sizes: the zip at most `maxZipSize` (`[go] max_zip_size`, capped by Go's 500 MiB), the sum
 *   of uncompressed sizes at most 500 MiB, `go.mod` and `LICENSE` at most 16 MiB each; every
 *   entry is inflated to check its declared size and its CRC-32, so a zip `go` would refuse
 *   to extract is refused here;
 * - the root `go.mod` names the module (its `module` line); a `+incompatible` version has none.
 *
 * It also says which directories hold a `.go` file (`packageDirs`): the packages the module
 * provides, whose import paths (`<module>/<dir>`) a publish must be allowed to write (publish.ts).
 *
 * Failures are RegistryError BAD_REQUEST (TOO_LARGE for sizes) with a one-line reason.
 */
import fs from 'node:fs/promises';
import { constants, crc32, InflateRaw, inflateRawSync } from 'node:zlib';
import yauzl from 'yauzl';
import { errnoCode, RegistryError } from '../../core/errors.ts';
import { checkGoModSyntax, unknownGoModStatements } from './gomod-syntax.ts';
import { checkFilePath, checkModuleVersion, semverBuild } from './module.ts';

/** golang.org/x/mod/zip MaxZipFile: the zip and the sum of its files' sizes, bytes. */
export const MAX_ZIP_FILE = 500 * 1024 * 1024;
/** golang.org/x/mod/zip MaxGoMod, bytes. */
export const MAX_GO_MOD = 16 * 1024 * 1024;
/** golang.org/x/mod/zip MaxLICENSE, bytes. */
export const MAX_LICENSE = 16 * 1024 * 1024;
/** Entries read at most (a guard on the central directory, far above real modules). */
export const MAX_ENTRIES = 250_000;

/** What a valid module zip yields. */
export interface CheckedZip {
  /** The root go.mod's bytes, or undefined when the module has none. */
  readonly goMod: Buffer | undefined;
  /** Regular files in the zip. */
  readonly files: number;
  /** Sum of their uncompressed sizes, bytes. */
  readonly contentSize: number;
  /**
   * Each directory holding a file named `*.go` (slash path relative to the module root, `''` for
   * the root), once, sorted: the packages the module provides, as the `go` command counts a
   * directory with Go files as a package of the module (so `<module>/<dir>` resolves to it).
   */
  readonly packageDirs: readonly string[];
}

function invalid(reason: string): RegistryError {
  return new RegistryError('BAD_REQUEST', `invalid module zip: ${reason}`);
}

/** Unix file type bits of an entry when its creator recorded a Unix mode, else undefined. */
function unixFileType(entry: {
  readonly versionMadeBy: number;
  readonly externalFileAttributes: number;
}): number | undefined {
  const creator = entry.versionMadeBy >> 8;
  // 3 = Unix, 19 = OS X (Darwin): the high 16 bits of the external attributes are st_mode.
  if (creator !== 3 && creator !== 19) return undefined;
  // No type bits (Python's zipfile.writestr writes 0600 alone) is a regular file, as Go's
  // archive/zip reads it (unixModeToFileMode adds nothing for an unknown type).
  const type = (entry.externalFileAttributes >>> 16) & 0o170000;
  return type === 0 ? undefined : type;
}

/** Case folding for the collision check (Go uses unicode.SimpleFold; lower-casing is close). */
function fold(p: string): string {
  return p.toLowerCase();
}

/** x/mod/zip isVendoredPackage, false positives included (they are part of the zip format). */
export function isVendoredPackage(name: string): boolean {
  let i: number;
  if (name.startsWith('vendor/')) i = 'vendor/'.length;
  else if (name.includes('/vendor/')) i = '/vendor/'.length;
  else return false;
  return name.slice(i).includes('/');
}

/** path.Clean(p) === p for a relative slash path (no `.`/`..`/empty elements, no trailing /). */
function isClean(p: string): boolean {
  if (p === '' || p.startsWith('/') || p.endsWith('/')) return false;
  return p.split('/').every((e) => e !== '' && e !== '.' && e !== '..');
}

/** Records each path and its parents; the reason of a collision, or undefined. */
class CollisionChecker {
  readonly #seen = new Map<string, { path: string; isDir: boolean }>();

  check(p: string, isDir: boolean): string | undefined {
    const key = fold(p);
    const other = this.#seen.get(key);
    if (other !== undefined) {
      if (other.path !== p)
        return `case-insensitive file name collision: "${other.path}" and "${p}"`;
      if (other.isDir !== isDir) return `entry "${p}" is both a file and a directory`;
      if (!isDir) return `multiple entries for file "${p}"`;
      return undefined; // a directory seen before: its parents are recorded already
    }
    this.#seen.set(key, { path: p, isDir });
    const slash = p.lastIndexOf('/');
    return slash < 0 ? undefined : this.check(p.slice(0, slash), true);
  }
}

/**
 * Checks the module zip at `zipPath` (`zipSize` bytes) for `module@version` (decoded, already
 * valid: module.ts checkModuleVersion) and returns its root go.mod. `maxZipSize` is the
 * operator's bound (`[go] max_zip_size`). Throws RegistryError (BAD_REQUEST, TOO_LARGE).
 */
export async function checkModuleZip(
  zipPath: string,
  zipSize: number,
  module: string,
  version: string,
  maxZipSize: number,
): Promise<CheckedZip> {
  const versionErr = checkModuleVersion(module, version);
  if (versionErr !== undefined) throw new RegistryError('BAD_REQUEST', versionErr);
  const limit = Math.min(maxZipSize, MAX_ZIP_FILE);
  if (zipSize > limit) {
    throw new RegistryError(
      'TOO_LARGE',
      `module zip file is too large (${zipSize} bytes; limit is ${limit} bytes)`,
    );
  }
  const prefix = `${module}@${version}/`;
  if (zipSize <= inMemoryUploadBytes) {
    return checkInMemory(await fs.readFile(zipPath), new ModuleZipRules(prefix, module, version));
  }
  // The central directory is read and judged here, by the rules of the in-memory walk (a short
  // entry count refused, names read as UTF-8, a backslash refused); yauzl only streams each
  // entry's data. Its own walk accepted an end record counting fewer entries than the directory
  // holds (reading the counted ones) and decoded names without the UTF-8 flag as CP437, so a
  // zip over 4 MiB was judged unlike the same zip under it, and unlike `go`.
  const directory = await centralDirectoryOfFile(zipPath, zipSize);
  if (typeof directory === 'string') throw invalid(directory);
  let zip: yauzl.ZipFile;
  try {
    zip = await yauzl.openPromise(zipPath, {
      lazyEntries: true,
      autoClose: false,
      // Names stay bytes: they were decoded and checked above, as Go reads them.
      decodeStrings: false,
      validateEntrySizes: true,
    });
  } catch (err) {
    throw asZipError(err);
  }
  try {
    return await checkEntries(zip, directory, new ModuleZipRules(prefix, module, version));
  } catch (err) {
    throw asZipError(err);
  } finally {
    zip.close();
  }
}

/** The tail of a zip file read first for its end records: the end record, its longest comment
 * and a zip64 locator, bytes. */
const TAIL_BYTES = 22 + 0xffff + 20;
/**
 * The most of a zip file's end (central directory and end records) read into memory for the
 * check of a large upload, bytes: 250,000 records (MAX_ENTRIES) of names up to ~200 bytes.
 */
export const MAX_DIRECTORY_BYTES = 64 * 1024 * 1024;

/** A read of a WindowBytes below the bytes it holds: `at`, the offset asked for. */
class BelowWindow extends Error {
  readonly at: number;
  constructor(at: number) {
    super(`offset ${at} is below the bytes read`);
    this.at = at;
  }
}

/**
 * The last bytes of a file, from `base` to its end (`length`), read at offsets within the whole
 * file as ChunkedBytes reads a zip in memory; a read below `base` throws BelowWindow (the caller
 * reads from there and asks again), one past the end throws RangeError as Buffer's do.
 */
class WindowBytes implements ZipBytes {
  readonly length: number;
  readonly #bytes: Buffer;
  readonly #base: number;

  constructor(bytes: Buffer, base: number) {
    this.#bytes = bytes;
    this.#base = base;
    this.length = base + bytes.length;
  }

  #at(at: number): number {
    if (at < this.#base) throw new BelowWindow(at);
    return at - this.#base;
  }

  readUInt16LE(at: number): number {
    return this.#bytes.readUInt16LE(this.#at(at));
  }

  readUInt32LE(at: number): number {
    return this.#bytes.readUInt32LE(this.#at(at));
  }

  readBigUInt64LE(at: number): bigint {
    return this.#bytes.readBigUInt64LE(this.#at(at));
  }

  toString(encoding: 'utf8' | 'latin1', start: number, end: number): string {
    const from = this.#at(start);
    return this.#bytes.toString(encoding, from, from + end - start);
  }
}

/**
 * centralDirectory (`strict`: an upload's rules) of the zip file at `zipPath`, `size` bytes, read
 * from its end: the tail first, then back to where the records say the zip64 end record or the
 * directory starts (each read reaches further back, so at most a few). Memory is the directory
 * and end records, never an entry's data; more than MAX_DIRECTORY_BYTES of them is refused
 * (a string reason, as centralDirectory's are).
 */
async function centralDirectoryOfFile(
  zipPath: string,
  size: number,
  strict = true,
): Promise<CentralEntry[] | string> {
  const handle = await fs.open(zipPath, 'r');
  try {
    let base = Math.max(0, size - TAIL_BYTES);
    for (;;) {
      if (size - base > MAX_DIRECTORY_BYTES) {
        return `central directory too large (more than ${MAX_DIRECTORY_BYTES} bytes from where it starts to the end)`;
      }
      const bytes = Buffer.allocUnsafe(size - base);
      const { bytesRead } = await handle.read(bytes, 0, bytes.length, base);
      if (bytesRead !== bytes.length) return 'unexpected EOF';
      try {
        return centralDirectory(new WindowBytes(bytes, base), strict);
      } catch (err) {
        if (!(err instanceof BelowWindow) || err.at >= base || err.at < 0) throw err;
        base = err.at;
      }
    }
  } finally {
    await handle.close();
  }
}

/**
 * The module zip rules, entry by entry (`entry`) and then for the whole (`finish`): one set for
 * both walks of an upload, in memory (checkInMemory) and through yauzl (checkEntries).
 */
class ModuleZipRules {
  readonly #prefix: string;
  readonly #module: string;
  readonly #version: string;
  readonly #collisions = new CollisionChecker();
  readonly #packageDirs = new Set<string>();
  #contentSize = 0;
  #files = 0;

  constructor(prefix: string, module: string, version: string) {
    this.#prefix = prefix;
    this.#module = module;
    this.#version = version;
  }

  /**
   * Checks one entry before its data is read: its path relative to the module root when it is a
   * file to read through, undefined for a directory (or the root itself). Throws RegistryError.
   */
  entry(full: string, type: number | undefined, size: number): string | undefined {
    const prefix = this.#prefix;
    if (!full.startsWith(prefix)) {
      throw invalid(`${JSON.stringify(full)}: path does not have prefix "${prefix}"`);
    }
    let name = full.slice(prefix.length);
    if (name === '') return undefined;
    const isDir = name.endsWith('/');
    if (isDir) name = name.slice(0, -1);
    if (!isClean(name)) throw invalid(`${JSON.stringify(full)}: file path is not clean`);
    const pathErr = checkFilePath(name);
    if (pathErr !== undefined) throw invalid(pathErr);
    const collision = this.#collisions.check(name, isDir);
    if (collision !== undefined) throw invalid(collision);
    if (isDir) {
      if (type !== undefined && type !== 0o040000) throw invalid(`"${name}" is not a directory`);
      return undefined;
    }
    if (type === 0o120000) throw invalid(`"${name}" is a symbolic link`);
    if (type !== undefined && type !== 0o100000) throw invalid(`"${name}" is not a regular file`);
    if (isVendoredPackage(name)) {
      throw invalid(`"${name}": files of vendored packages are not allowed in a module zip`);
    }
    const slash = name.lastIndexOf('/');
    const base = name.slice(slash + 1);
    if (base.endsWith('.go')) this.#packageDirs.add(slash < 0 ? '' : name.slice(0, slash));
    if (base.toLowerCase() === 'go.mod') {
      if (base !== name) {
        throw invalid(`"${name}": go.mod file not in module root directory (a nested module)`);
      }
      if (name !== 'go.mod') throw invalid(`"${name}": go.mod files must have lowercase names`);
    }
    if (size > MAX_ZIP_FILE - this.#contentSize) {
      throw new RegistryError(
        'TOO_LARGE',
        `invalid module zip: total uncompressed size of module contents too large (max size is ${MAX_ZIP_FILE} bytes)`,
      );
    }
    this.#contentSize += size;
    if (name === 'go.mod' && size > MAX_GO_MOD) {
      throw new RegistryError(
        'TOO_LARGE',
        `invalid module zip: go.mod file too large (max size is ${MAX_GO_MOD} bytes)`,
      );
    }
    if (name === 'LICENSE' && size > MAX_LICENSE) {
      throw new RegistryError(
        'TOO_LARGE',
        `invalid module zip: LICENSE file too large (max size is ${MAX_LICENSE} bytes)`,
      );
    }
    this.#files++;
    return name;
  }

  /** The whole zip's rules (the root go.mod, `goMod`, names the module); what it yields. */
  finish(goMod: Buffer | undefined): CheckedZip {
    const module = this.#module;
    if (goMod !== undefined) {
      if (semverBuild(this.#version) === '+incompatible') {
        throw invalid(
          `${module}@${this.#version}: +incompatible versions have no go.mod (this module has one, so its path needs a major version suffix)`,
        );
      }
      const text = goMod.toString('utf8');
      // Checked before anything is stored: a version is immutable, and go fails every `go get` of
      // one whose go.mod it cannot parse, and every `go install m@v` (a strict parse) of one with a
      // malformed `replace`, `exclude`, `retract`, `go` or `toolchain` line (trial 23).
      const syntax = checkGoModSyntax(text);
      if (syntax !== undefined) {
        throw invalid(`go.mod does not parse as go reads it (${syntax}): fix it and publish again`);
      }
      const declared = parseModulePath(text);
      if (declared === undefined) {
        // go skips an unknown directive in a dependency's go.mod (so this stays a refusal of a
        // go.mod without a module line, go's "parsing go.mod: missing module line"), but a
        // misspelt `modul x` is named, in the words of the author's own `go build` (trial 21 F3).
        const unknown = unknownGoModStatements(text);
        throw invalid(
          unknown.length === 0
            ? 'go.mod has no module line'
            : `go.mod has no module line (${unknown.join('; ')})`,
        );
      }
      if (declared !== module) {
        throw invalid(`go.mod declares module "${declared}", not "${module}"`);
      }
    }
    return {
      goMod,
      files: this.#files,
      contentSize: this.#contentSize,
      packageDirs: [...this.#packageDirs].sort(),
    };
  }
}

/**
 * An upload's zip over this size is walked from its spool file by yauzl (bounded memory: one
 * entry's stream at a time); up to it, read into memory and checked as a proxied zip is.
 */
export const IN_MEMORY_UPLOAD_BYTES = 4 * 1024 * 1024;
let inMemoryUploadBytes = IN_MEMORY_UPLOAD_BYTES;

/** Tests: the size up to which an upload is checked in memory (IN_MEMORY_UPLOAD_BYTES). */
export function setInMemoryUploadBytesForTests(bytes: number): void {
  inMemoryUploadBytes = bytes;
}

/**
 * checkModuleZip of a zip read into memory: the central directory and every entry read as the
 * proxy's whole-zip check reads them (centralDirectory strict: a backslash in a name is refused,
 * names decoded as UTF-8 as Go reads them; entryProblemInMemory), each entry's rules applied
 * before its data is read. The root go.mod's bytes are kept.
 */
async function checkInMemory(bytes: Buffer, rules: ModuleZipRules): Promise<CheckedZip> {
  const zip = new ChunkedBytes(bytes);
  const directory = centralDirectory(zip, true);
  if (typeof directory === 'string') throw invalid(directory);
  let goMod: Buffer | undefined;
  const pace = checkPacer();
  const inflater = new EntryInflater(pace, inflaterFallback);
  try {
    for (const entry of directory) {
      const name = rules.entry(entry.fileName, unixFileType(entry), entry.uncompressedSize);
      if (name === undefined) continue;
      const kept: { bytes?: Buffer } = {};
      const problem = await entryProblemInMemory(
        zip,
        entry,
        inflater,
        name === 'go.mod' ? kept : undefined,
      );
      if (problem !== undefined) throw invalid(problem);
      if (name === 'go.mod') goMod = kept.bytes;
      const wait = pace();
      if (wait !== undefined) await wait;
    }
  } finally {
    inflater.close();
  }
  return rules.finish(goMod);
}

/**
 * The walk of a large upload: each record of `directory` (read by centralDirectoryOfFile) judged
 * by the rules, its data streamed by yauzl from the same record (one entry at a time). The two
 * read the same records in the same order; a count that differs is refused all the same.
 */
async function checkEntries(
  zip: yauzl.ZipFile,
  directory: readonly CentralEntry[],
  rules: ModuleZipRules,
): Promise<CheckedZip> {
  if (zip.entryCount !== directory.length) {
    throw invalid(`the end record counts ${zip.entryCount} entries, read ${directory.length}`);
  }
  let goMod: Buffer | undefined;
  let i = 0;
  for await (const entry of zip.eachEntry()) {
    const record = directory[i++] as CentralEntry;
    // yauzl found its directory by its own reading of the end records: each entry it streams
    // must be the record judged here (same name, offset, sizes, method), or the data checked
    // would not be the data `go` reads.
    if (!sameRecord(entry, record)) {
      throw invalid(
        `entry ${i}: the central directory read for the check and the one streamed differ (${JSON.stringify(record.fileName.slice(0, 200))})`,
      );
    }
    const name = rules.entry(record.fileName, unixFileType(record), record.uncompressedSize);
    if (name === undefined) continue;
    const data = await inflate(zip, entry, name, name === 'go.mod');
    if (name === 'go.mod') goMod = data;
  }
  return rules.finish(goMod);
}

/**
 * Whether yauzl's `entry` is the central directory record `record`: the same local header,
 * sizes, method, flags and CRC-32, and with `names` (an upload's, read as bytes: decodeStrings
 * false) the same name read as UTF-8.
 */
function sameRecord(entry: yauzl.Entry, record: CentralEntry, names = true): boolean {
  const name = entry.fileName as unknown as Buffer | string;
  return (
    (!names || (typeof name === 'string' ? name : name.toString('utf8')) === record.fileName) &&
    entry.relativeOffsetOfLocalHeader === record.relativeOffsetOfLocalHeader &&
    entry.compressedSize === record.compressedSize &&
    entry.uncompressedSize === record.uncompressedSize &&
    entry.compressionMethod === record.compressionMethod &&
    entry.generalPurposeBitFlag === record.generalPurposeBitFlag &&
    entry.crc32 >>> 0 === record.crc32 >>> 0
  );
}

/**
 * Reads one entry through, checking its inflated size (yauzl's validateEntrySizes) and its
 * CRC-32; returns the bytes when `keep`.
 */
async function inflate(
  zip: yauzl.ZipFile,
  entry: yauzl.Entry,
  name: string,
  keep: boolean,
): Promise<Buffer | undefined> {
  const stream = await zip.openReadStreamPromise(entry);
  let crc = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    crc = crc32(chunk, crc);
    if (keep) chunks.push(chunk);
  }
  if (crc >>> 0 !== entry.crc32 >>> 0) throw invalid(`"${name}": CRC-32 mismatch`);
  return keep ? Buffer.concat(chunks) : undefined;
}

function asZipError(err: unknown): unknown {
  if (err instanceof RegistryError) return err;
  // yauzl's own errors describe the archive's structure: the uploader's fault, said plainly.
  if (err instanceof Error && !('code' in err)) return invalid(err.message);
  // zlib's errors (Z_DATA_ERROR, Z_BUF_ERROR "unexpected end of file") are corrupt deflate
  // data in an entry: the archive again, not the server.
  const code = errnoCode(err);
  if (err instanceof Error && code?.startsWith('Z_') === true) {
    return invalid(`corrupt compressed data (${err.message})`);
  }
  return err;
}

/**
 * The module path a go.mod declares (`module x`, `module "x"`, `` module `x` ``, or the block
 * form `module ( x )`), comments stripped; undefined when there is no module directive.
 */
export function parseModulePath(goMod: string): string | undefined {
  const lines = goMod.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = stripComment(lines[i] ?? '').trim();
    const m = /^module(?:\s+(.*)|\s*(\())$/.exec(line);
    if (m === null) continue;
    if (m[2] === '(' || m[1]?.trim() === '(') {
      for (let j = i + 1; j < lines.length; j++) {
        const inner = stripComment(lines[j] ?? '').trim();
        if (inner === '') continue;
        if (inner === ')') return undefined;
        return unquote(inner);
      }
      return undefined;
    }
    let rest = (m[1] ?? '').trim();
    if (rest.startsWith('(')) rest = rest.slice(1, rest.endsWith(')') ? -1 : undefined).trim();
    return unquote(rest);
  }
  return undefined;
}

function stripComment(line: string): string {
  // A `//` inside a quoted module path is not a comment; module paths cannot hold quotes.
  let inQuote: string | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (inQuote !== undefined) {
      if (c === '\\' && inQuote === '"') i++;
      else if (c === inQuote) inQuote = undefined;
    } else if (c === '"' || c === '`') inQuote = c;
    else if (c === '/' && line[i + 1] === '/') return line.slice(0, i);
  }
  return line;
}

function unquote(token: string): string | undefined {
  if (token.startsWith('`'))
    return token.endsWith('`') && token.length >= 2 ? token.slice(1, -1) : undefined;
  if (token.startsWith('"')) {
    try {
      const v: unknown = JSON.parse(token);
      return typeof v === 'string' ? v : undefined;
    } catch {
      return undefined;
    }
  }
  return /\s/.test(token) || token === '' ? undefined : token;
}

const LOCAL_FILE_HEADER = Buffer.from([0x50, 0x4b, 0x03, 0x04]);
const END_OF_CENTRAL_DIRECTORY = Buffer.from([0x50, 0x4b, 0x05, 0x06]);
/** Fixed part of a zip local file header, bytes (APPNOTE.TXT 4.3.7); the file name follows. */
const LOCAL_HEADER_BYTES = 30;

/** How many leading bytes checkZipHead needs to decide for `module@version`. */
export function zipHeadBytes(module: string, version: string): number {
  return LOCAL_HEADER_BYTES + Buffer.byteLength(`${module}@${version}/`);
}

/**
 * Whether `head` (the first zipHeadBytes bytes of a body, or all of a shorter one) can start the
 * module zip of `module@version`: a zip archive whose first entry is under `<module>@<version>/`
 * (CheckZip's rule for every entry), or an empty archive. A proxy checks this before it keeps an
 * upstream's `.zip` forever: an error page or another module's zip answered with 200 would
 * otherwise stay cached, and `go` refuse that version, until an operator deleted it. Only the
 * head is read, so a large zip still streams into the blob store. Returns the reason it cannot,
 * or undefined.
 */
export function checkZipHead(head: Buffer, module: string, version: string): string | undefined {
  if (head.subarray(0, 4).equals(END_OF_CENTRAL_DIRECTORY)) return undefined;
  if (head.length < LOCAL_HEADER_BYTES || !head.subarray(0, 4).equals(LOCAL_FILE_HEADER)) {
    return 'not a zip archive';
  }
  const prefix = Buffer.from(`${module}@${version}/`);
  const nameLength = head.readUInt16LE(26);
  const name = head.subarray(LOCAL_HEADER_BYTES, LOCAL_HEADER_BYTES + nameLength);
  if (nameLength < prefix.length || !name.subarray(0, prefix.length).equals(prefix)) {
    const shown = name.subarray(0, Math.min(name.length, 200)).toString('utf8');
    return `its first file ${JSON.stringify(shown)} is not under ${module}@${version}/`;
  }
  return undefined;
}

/**
 * Why a module zip from an upstream is not an intact archive, or undefined: its central
 * directory must parse (at most MAX_ENTRIES entries) and every entry inflate to its declared
 * size with its CRC-32 — what `go` needs to extract it. The head check (checkZipHead) alone let
 * a zip with a valid start and garbage after it through, and a proxied `.zip` is kept for good
 * (TTL -1): `go` failed on it ("zip: not a valid zip file") even after the upstream was fixed.
 * The module zip rules (paths, go.mod, collisions: checkModuleZip) are not applied: for a
 * proxied module they are the `go` command's to report, as for any proxy. `source` is the zip's
 * bytes (read directly: centralDirectory, entryProblemInMemory) or a file path (a spooled large
 * zip, read through yauzl); the work is one inflate of each entry (nothing kept).
 */
export async function zipIntegrityProblem(
  source: Buffer | readonly Buffer[] | string,
): Promise<string | undefined> {
  if (typeof source !== 'string') return zipIntegrityProblemInMemory(new ChunkedBytes(source));
  // The directory `go` reads (centralDirectory's rules) is found first; yauzl, which finds its
  // own, must then stream the same records, so the entries checked are the ones `go` extracts.
  const directory = await centralDirectoryOfFile(source, (await fs.stat(source)).size, false);
  if (typeof directory === 'string') return directory;
  const options = {
    lazyEntries: true,
    autoClose: false,
    strictFileNames: false,
    validateEntrySizes: true,
    decodeStrings: true,
  };
  let zip: yauzl.ZipFile;
  try {
    zip = await yauzl.openPromise(source, options);
  } catch (err) {
    return problemOf(err);
  }
  try {
    if (zip.entryCount > MAX_ENTRIES) return `more than ${MAX_ENTRIES} entries`;
    if (zip.entryCount !== directory.length) {
      return `the end record counts ${zip.entryCount} entries, read ${directory.length}`;
    }
    let i = 0;
    // Bounds the inflating (each entry must inflate to exactly its declared size): `go` refuses
    // module contents over MAX_ZIP_FILE anyway, and a small zip may claim gigabytes.
    let contents = 0;
    for await (const entry of zip.eachEntry()) {
      if (!sameRecord(entry, directory[i++] as CentralEntry, false)) {
        return `entry ${i}: the central directory read for the check and the one streamed differ`;
      }
      if (entry.fileName.endsWith('/')) continue;
      contents += entry.uncompressedSize;
      if (contents > MAX_ZIP_FILE) return CONTENTS_TOO_LARGE;
      const stream = await zip.openReadStreamPromise(entry);
      let crc = 0;
      for await (const chunk of stream as AsyncIterable<Buffer>) crc = crc32(chunk, crc);
      if (crc >>> 0 !== entry.crc32 >>> 0) return `"${entry.fileName}": CRC-32 mismatch`;
    }
    return undefined;
  } catch (err) {
    return problemOf(err);
  } finally {
    zip.close();
  }
}

const CONTENTS_TOO_LARGE = `total uncompressed size of module contents too large (max size is ${MAX_ZIP_FILE} bytes)`;

/**
 * zipIntegrityProblem of a zip held in memory (every proxied `.zip` up to proxy.ts
 * MEMORY_FILL_BYTES): the central directory read from the buffer (centralDirectory), each entry
 * checked in place (entryProblemInMemory). yauzl's walk (an Entry object with its extra fields
 * parsed and strings decoded, a promise and a buffer copy per record) was ~5% of the main
 * thread of a cold `go mod download`; the verdicts are yauzl's, plus Go's own refusal of an
 * entry count lower than the records present.
 */
async function zipIntegrityProblemInMemory(zip: ChunkedBytes): Promise<string | undefined> {
  const directory = centralDirectory(zip);
  if (typeof directory === 'string') return directory;
  // Bounds the inflating (each entry must inflate to exactly its declared size): `go` refuses
  // module contents over MAX_ZIP_FILE anyway, and a small zip may claim gigabytes.
  let contents = 0;
  // Entries inflate synchronously: without a turn of the event loop now and then, a zip of a
  // few hundred files (x/sys: 412) held every other request for 40-100 ms, and `go`'s next
  // answers (often the very zip being checked, sent from memory) waited for the whole check.
  // Asked after each entry and after each 64 KiB inflated of a large one.
  const pace = checkPacer();
  const inflater = new EntryInflater(pace, inflaterFallback);
  try {
    for (const entry of directory) {
      if (entry.fileName.endsWith('/')) continue;
      contents += entry.uncompressedSize;
      if (contents > MAX_ZIP_FILE) return CONTENTS_TOO_LARGE;
      const problem = await entryProblemInMemory(zip, entry, inflater);
      if (problem !== undefined) return problem;
      const wait = pace();
      if (wait !== undefined) await wait;
    }
    return undefined;
  } finally {
    inflater.close();
  }
}

let inflaterFallback = false;

/** Tests: whether the in-memory check inflates each entry with `inflateRawSync` instead. */
export function useInflateRawSyncForTests(on: boolean): void {
  inflaterFallback = on;
}

/** The in-memory whole-zip check yields to the event loop after this much work, ms. */
const CHECK_SLICE_MS = 2;

/**
 * A check's pacer: asked after each entry and each inflated piece, it answers a promise (one turn
 * of the event loop) once CHECK_SLICE_MS have gone by since the last turn, else undefined (go on).
 */
function checkPacer(): () => Promise<void> | undefined {
  let since = performance.now();
  return () => {
    if (performance.now() - since < CHECK_SLICE_MS) return undefined;
    return new Promise<void>((resolve) => setImmediate(resolve)).then(() => {
      since = performance.now();
    });
  };
}

/**
 * A zip held in memory as the chunks its body arrived in, read in place: a number from the chunk
 * that holds it (a copy of those few bytes only when it straddles two), an entry's data as views
 * of the chunks it spans. Joining a fill's chunks into one buffer for the check copied every
 * proxied zip into freshly allocated memory (~2% of a cold `go mod download`'s main thread).
 * Reads past the end throw RangeError, as Buffer's do.
 */
export class ChunkedBytes implements ZipBytes {
  readonly length: number;
  readonly #chunks: readonly Buffer[];
  /** Offset of each chunk's first byte in the whole. */
  readonly #starts: number[];
  /** The chunk read last: reads come mostly in order. */
  #at = 0;

  constructor(source: Buffer | readonly Buffer[]) {
    const chunks = Buffer.isBuffer(source) ? [source] : source.filter((c) => c.length > 0);
    this.#chunks = chunks;
    this.#starts = [];
    let length = 0;
    for (const chunk of chunks) {
      this.#starts.push(length);
      length += chunk.length;
    }
    this.length = length;
  }

  /** Index of the chunk holding byte `at` (0 <= at < length). */
  #index(at: number): number {
    const starts = this.#starts;
    let i = this.#at;
    const start = starts[i] ?? 0;
    if (at >= start && at < start + (this.#chunks[i]?.length ?? 0)) return i;
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((starts[mid] ?? 0) <= at) lo = mid;
      else hi = mid - 1;
    }
    i = lo;
    this.#at = i;
    return i;
  }

  /** A buffer holding bytes [at, at + n) and where they start in it. */
  #holding(at: number, n: number): [Buffer, number] {
    if (!(at >= 0 && at + n <= this.length)) {
      throw new RangeError(`offset ${at} + ${n} is out of range (length ${this.length})`);
    }
    const i = this.#index(at);
    const chunk = this.#chunks[i] as Buffer;
    const offset = at - (this.#starts[i] as number);
    if (offset + n <= chunk.length) return [chunk, offset];
    return [this.flat(at, at + n), 0];
  }

  readUInt16LE(at: number): number {
    const [buf, offset] = this.#holding(at, 2);
    return buf.readUInt16LE(offset);
  }

  readUInt32LE(at: number): number {
    const [buf, offset] = this.#holding(at, 4);
    return buf.readUInt32LE(offset);
  }

  readBigUInt64LE(at: number): bigint {
    const [buf, offset] = this.#holding(at, 8);
    return buf.readBigUInt64LE(offset);
  }

  toString(encoding: 'utf8' | 'latin1', start: number, end: number): string {
    const [buf, offset] = this.#holding(start, end - start);
    return buf.toString(encoding, offset, offset + end - start);
  }

  /** Bytes [start, end) as views of the chunks they span, in order (none when empty). */
  pieces(start: number, end: number): Buffer[] {
    if (!(start >= 0 && start <= end && end <= this.length)) {
      throw new RangeError(`range ${start}-${end} is out of range (length ${this.length})`);
    }
    const out: Buffer[] = [];
    if (start === end) return out;
    for (let i = this.#index(start); i < this.#chunks.length; i++) {
      const chunkStart = this.#starts[i] as number;
      if (chunkStart >= end) break;
      const chunk = this.#chunks[i] as Buffer;
      out.push(
        chunk.subarray(Math.max(0, start - chunkStart), Math.min(chunk.length, end - chunkStart)),
      );
    }
    return out;
  }

  /** Bytes [start, end) as one buffer: a view when one chunk holds them, else a copy. */
  flat(start: number, end: number): Buffer {
    const pieces = this.pieces(start, end);
    if (pieces.length === 1) return pieces[0] as Buffer;
    return Buffer.concat(pieces, end - start);
  }
}

/** The reads centralDirectory makes of a zip: offsets within the whole archive. */
interface ZipBytes {
  readonly length: number;
  readUInt16LE(at: number): number;
  readUInt32LE(at: number): number;
  readBigUInt64LE(at: number): bigint;
  toString(encoding: 'utf8' | 'latin1', start: number, end: number): string;
}

/** What the integrity check reads of a central directory record (APPNOTE.TXT 4.3.12). */
interface CentralEntry {
  /**
   * UTF-8 when flag bit 11 says so, else Latin-1 (CP437's ASCII half is what is checked);
   * backslashes read as slashes.
   */
  readonly fileName: string;
  readonly generalPurposeBitFlag: number;
  readonly compressionMethod: number;
  readonly crc32: number;
  /** Bytes, zip64 extra field applied. */
  readonly compressedSize: number;
  /** Bytes, zip64 extra field applied. */
  readonly uncompressedSize: number;
  /** Offset of the entry's local header in the archive, zip64 extra field applied. */
  readonly relativeOffsetOfLocalHeader: number;
  /** The creator's system in the high byte (3 Unix, 19 OS X), as yauzl's Entry has it. */
  readonly versionMadeBy: number;
  /** With a Unix creator, st_mode in the high 16 bits. */
  readonly externalFileAttributes: number;
}

const EOCD_SIGNATURE = 0x06054b50;
const EOCD_BYTES = 22;
const ZIP64_LOCATOR_SIGNATURE = 0x07064b50;
const ZIP64_LOCATOR_BYTES = 20;
const ZIP64_EOCD_SIGNATURE = 0x06064b50;
const ZIP64_EOCD_BYTES = 56;
const CENTRAL_HEADER_SIGNATURE = 0x02014b50;
const CENTRAL_HEADER_BYTES = 46;
const ZIP64_EXTRA_ID = 0x0001;
const U32_MAX = 0xffffffff;

/** An 8-byte little-endian count or offset; NaN past 2^53 (no zip in memory is that large). */
function readU64(buf: ZipBytes, at: number): number {
  const value = buf.readBigUInt64LE(at);
  return value > BigInt(Number.MAX_SAFE_INTEGER) ? Number.NaN : Number(value);
}

/**
 * The central directory of the zip `zip` (APPNOTE.TXT 4.3.16 end of central directory record,
 * searched backwards over at most a 64 KiB comment; 4.3.14–15 zip64 locator and record; 4.3.12
 * file headers; 4.5.3 zip64 extra field), or the reason it does not parse, in yauzl's words
 * where yauzl had one: no end record, a comment length that does not reach the end, multi-disk,
 * more than MAX_ENTRIES entries, a record past the end or without its signature (an entry
 * count larger than the records), an absolute or `..` name, a stored entry whose two sizes
 * differ, a zip64 field missing. An entry count smaller than the records is refused as Go's
 * archive/zip refuses it (yauzl read the first ones only).
 */
function centralDirectory(zip: ZipBytes, strict = false): CentralEntry[] | string {
  let end = -1;
  const lowest = Math.max(0, zip.length - EOCD_BYTES - 0xffff);
  for (let i = zip.length - EOCD_BYTES; i >= lowest; i--) {
    if (zip.readUInt32LE(i) === EOCD_SIGNATURE) {
      end = i;
      break;
    }
  }
  if (end < 0) {
    return 'End of central directory record signature not found. Either not a zip file, or file is truncated.';
  }
  if (zip.readUInt16LE(end + 20) !== zip.length - end - EOCD_BYTES) {
    return 'Invalid comment length: extra bytes at the end of the file';
  }
  let disk = zip.readUInt16LE(end + 4);
  let count = zip.readUInt16LE(end + 10);
  let size = zip.readUInt32LE(end + 12);
  let offset = zip.readUInt32LE(end + 16);
  // Where the directory must end: the end record, or the zip64 end record when it is read.
  let directoryEnd = end;
  // Go's archive/zip (readDirectoryEnd, findDirectory64End) reads the zip64 end record only
  // when the end record's count or offset is saturated and the locator names disk 0 of 1
  // disks; yauzl reads it whenever the locator's signature is there. A zip where the two
  // differ would be judged by one directory and read by `go` through another (code review,
  // thirtieth session): refused. Go 1.19 also takes a directory size of 0xffff as saturated,
  // which a newer reader may not: a locator with only that is refused too.
  const locator = end - ZIP64_LOCATOR_BYTES;
  if (locator >= 0 && zip.readUInt32LE(locator) === ZIP64_LOCATOR_SIGNATURE) {
    const saturated = count === 0xffff || offset === U32_MAX;
    const oneDisk = zip.readUInt32LE(locator + 4) === 0 && zip.readUInt32LE(locator + 16) === 1;
    if (!saturated || !oneDisk) {
      return 'zip64 end of central directory locator without a saturated end record (zip readers disagree on which central directory it names)';
    }
    const at = readU64(zip, locator + 8);
    if (!(at + ZIP64_EOCD_BYTES <= zip.length) || zip.readUInt32LE(at) !== ZIP64_EOCD_SIGNATURE) {
      return 'invalid zip64 end of central directory record signature';
    }
    disk = zip.readUInt32LE(at + 16);
    count = readU64(zip, at + 32);
    size = readU64(zip, at + 40);
    offset = readU64(zip, at + 48);
    directoryEnd = at;
  }
  // Go reads the directory at (where it must end − its size) and takes any difference from the
  // offset as data prepended to the archive; yauzl reads it at the offset. Only a directory
  // that ends where the end records start is read the same by both.
  if (offset + size !== directoryEnd) {
    return `the central directory (offset ${offset}, ${size} bytes) does not end where the end record starts (${directoryEnd})`;
  }
  if (disk !== 0) return `multi-disk zip files are not supported: found disk number: ${disk}`;
  if (!(count <= MAX_ENTRIES)) return `more than ${MAX_ENTRIES} entries`;
  const entries: CentralEntry[] = [];
  let at = offset;
  for (let n = 0; n < count; n++) {
    if (!(at + CENTRAL_HEADER_BYTES <= zip.length)) return 'unexpected EOF';
    const signature = zip.readUInt32LE(at);
    if (signature !== CENTRAL_HEADER_SIGNATURE) {
      return `invalid central directory file header signature: 0x${signature.toString(16)}`;
    }
    const flags = zip.readUInt16LE(at + 8);
    if ((flags & 0x40) !== 0) return 'strong encryption is not supported';
    const nameStart = at + CENTRAL_HEADER_BYTES;
    const extraStart = nameStart + zip.readUInt16LE(at + 28);
    const extraEnd = extraStart + zip.readUInt16LE(at + 30);
    const next = extraEnd + zip.readUInt16LE(at + 32);
    if (next > zip.length) return 'unexpected EOF';
    // Backslashes read as slashes, as yauzl read a lenient archive (strictFileNames: false).
    // strict (an upload, checkModuleZip): a backslash is refused, as yauzl's strictFileNames
    // did, and the name is read as UTF-8 whatever its flag says, as Go reads it (bytes that are
    // not UTF-8 are then no letters and fail checkFilePath, as in `go`).
    const raw = zip.toString(
      strict || (flags & 0x800) !== 0 ? 'utf8' : 'latin1',
      nameStart,
      extraStart,
    );
    if (strict && raw.includes('\\')) return `invalid characters in fileName: ${raw}`;
    // Backslashes read as slashes, as yauzl read a lenient archive (strictFileNames: false).
    const fileName = strict ? raw : raw.replaceAll('\\', '/');
    const nameProblem = unsafeName(fileName);
    if (nameProblem !== undefined) return nameProblem;
    let compressedSize = zip.readUInt32LE(at + 20);
    let uncompressedSize = zip.readUInt32LE(at + 24);
    let localHeader = zip.readUInt32LE(at + 42);
    // Parsed even when no field is all ones: yauzl refused malformed extra fields in any entry.
    const wide = extraEnd > extraStart ? zip64Extra(zip, extraStart, extraEnd) : undefined;
    if (typeof wide === 'string') return wide;
    if (wide !== undefined) {
      // 4.5.3: only the fields whose 4-byte value is all ones, in this order.
      let i = wide.start;
      const widen = (narrow: number, what: string): number | string => {
        if (narrow !== U32_MAX) return narrow;
        if (i + 8 > wide.end)
          return `zip64 extended information extra field does not include ${what}`;
        i += 8;
        return readU64(zip, i - 8);
      };
      const uncompressed = widen(uncompressedSize, 'uncompressed size');
      if (typeof uncompressed === 'string') return uncompressed;
      const compressed = widen(compressedSize, 'compressed size');
      if (typeof compressed === 'string') return compressed;
      const offset = widen(localHeader, 'relative header offset');
      if (typeof offset === 'string') return offset;
      [uncompressedSize, compressedSize, localHeader] = [uncompressed, compressed, offset];
      // Past 2^53 (readU64's NaN): no zip in memory is that large, and no size is.
      if (Number.isNaN(uncompressedSize + compressedSize + localHeader)) {
        return `${JSON.stringify(fileName.slice(0, 200))}: zip64 size or offset out of range`;
      }
    }
    const method = zip.readUInt16LE(at + 10);
    if (method === 0 && compressedSize !== uncompressedSize + ((flags & 1) !== 0 ? 12 : 0)) {
      return `compressed/uncompressed size mismatch for stored file: ${compressedSize} != ${uncompressedSize}`;
    }
    entries.push({
      fileName,
      generalPurposeBitFlag: flags,
      compressionMethod: method,
      crc32: zip.readUInt32LE(at + 16),
      compressedSize,
      uncompressedSize,
      relativeOffsetOfLocalHeader: localHeader,
      versionMadeBy: zip.readUInt16LE(at + 4),
      externalFileAttributes: zip.readUInt32LE(at + 38),
    });
    at = next;
  }
  // Go's archive/zip reads records while their signature holds and refuses a count that
  // differs: a record after the counted ones means the count lies.
  if (at + 4 <= zip.length && zip.readUInt32LE(at) === CENTRAL_HEADER_SIGNATURE) {
    return `the end record counts ${count} entries, the central directory holds more`;
  }
  return entries;
}

/**
 * The data of the zip64 extra field (id 1, APPNOTE.TXT 4.5.3) among the extra fields
 * `zip[start, end)`, undefined when there is none, or the reason the fields do not parse.
 */
function zip64Extra(
  zip: ZipBytes,
  start: number,
  end: number,
): { start: number; end: number } | string | undefined {
  let found: { start: number; end: number } | undefined;
  for (let i = start; i + 4 <= end;) {
    const dataEnd = i + 4 + zip.readUInt16LE(i + 2);
    if (dataEnd > end) return 'extra field length exceeds extra field buffer size';
    if (found === undefined && zip.readUInt16LE(i) === ZIP64_EXTRA_ID) {
      found = { start: i + 4, end: dataEnd };
    }
    i = dataEnd;
  }
  return found;
}

/** yauzl's validateFileName, for a name whose backslashes are read as slashes. */
function unsafeName(name: string): string | undefined {
  if (name.startsWith('/') || /^[a-zA-Z]:/.test(name)) return `absolute path: ${name}`;
  // Without splitting: this runs once per central directory record.
  if (name === '..' || name.startsWith('../') || name.endsWith('/..') || name.includes('/../')) {
    return `invalid relative path: ${name}`;
  }
  return undefined;
}

const LOCAL_FILE_HEADER_SIGNATURE = 0x04034b50;
/** Output of one inflate call at most, bytes: the scratch buffer each entry inflates into. */
const SCRATCH_BYTES = 64 * 1024;

/** Node's zlib engine as the synchronous zlib functions drive it (lib/zlib.js processChunkSync). */
interface ZlibEngine {
  _handle: {
    writeSync(
      flush: number,
      input: Buffer,
      inOff: number,
      inLen: number,
      out: Buffer,
      outOff: number,
      outLen: number,
    ): void;
  } | null;
  _writeState: Uint32Array;
  reset(): void;
  destroy(): void;
  readonly errored: Error | null;
  on(event: 'error', listener: () => void): void;
}

/**
 * Inflates entries of one zip one after another through one raw-inflate context (zlib's
 * inflateReset between entries) into one 64 KiB scratch buffer, each piece CRC'd and counted as
 * it comes out and then overwritten. `inflateRawSync` per entry (a zlib stream object, a native
 * context and its window allocated and freed, and a fresh output buffer of the entry's size —
 * 14 MB of new memory per cold `go mod download`, page faults included) cost about twice the
 * CPU of the inflating itself. The engine is Node's own (`new InflateRaw()`), driven as Node's
 * synchronous functions drive it (`_handle.writeSync`, the sizes left in `_writeState`); a
 * Node without that internal interface falls back to `inflateRawSync` of the entry
 * (`fallback`, also what the tests use to compare). A zlib error destroys the engine (Node's
 * zlibOnError): the next entry gets a new one. One inflater per check: checks of several zips
 * run at once and each yields between pieces.
 */
export class EntryInflater {
  #engine: ZlibEngine | undefined;
  readonly #scratch = Buffer.allocUnsafe(SCRATCH_BYTES);
  readonly #pace: () => Promise<void> | undefined;
  readonly #fallback: boolean;

  /** `pace` is asked after each piece: a promise to wait for (a turn of the event loop) or not. */
  constructor(pace: () => Promise<void> | undefined, fallback = false) {
    this.#pace = pace;
    this.#fallback = fallback;
  }

  #fresh(): ZlibEngine | undefined {
    if (this.#fallback) return undefined;
    const kept = this.#engine;
    if (kept !== undefined && kept._handle !== null) {
      kept.reset();
      return kept;
    }
    const engine = new InflateRaw() as unknown as ZlibEngine;
    if (
      typeof engine._handle?.writeSync !== 'function' ||
      !(engine._writeState instanceof Uint32Array)
    ) {
      return undefined;
    }
    // zlibOnError destroys the stream, which emits 'error' on the next tick: heard here, the
    // error itself is read from `errored` right after the failing write.
    engine.on('error', () => undefined);
    this.#engine = engine;
    return engine;
  }

  /**
   * Why the deflated `pieces` (in order) do not inflate to exactly `size` bytes of CRC-32 `crc`
   * (`name` quoted in the reason), or undefined.
   */
  async problem(
    name: string,
    pieces: readonly Buffer[],
    size: number,
    crc: number,
  ): Promise<string | undefined> {
    const engine = this.#fresh();
    if (engine === undefined) return wholeEntryProblem(name, pieces, size, crc);
    const scratch = this.#scratch;
    let sum = 0;
    let got = 0;
    // No data at all is still a deflate stream to finish: zlib says "unexpected end of file".
    const inputs = pieces.length === 0 ? [Buffer.alloc(0)] : pieces;
    for (let p = 0; p < inputs.length; p++) {
      const input = inputs[p] as Buffer;
      const flush = p === inputs.length - 1 ? constants.Z_FINISH : constants.Z_NO_FLUSH;
      let inOff = 0;
      let inLen = input.length;
      for (;;) {
        const handle = engine._handle;
        if (handle === null) return `${name}: corrupt compressed data (zlib closed)`;
        // One byte over the declared size is enough to tell that it inflates to more.
        const room = Math.min(SCRATCH_BYTES, size + 1 - got);
        handle.writeSync(flush, input, inOff, inLen, scratch, 0, room);
        const failed = engine.errored;
        if (failed !== null) {
          this.#engine = undefined;
          return `${name}: corrupt compressed data (${failed.message})`;
        }
        const outLeft = engine._writeState[0] as number;
        const inLeft = engine._writeState[1] as number;
        const have = room - outLeft;
        got += have;
        if (got > size) return `${name}: inflates past its declared size`;
        if (have > 0) sum = crc32(scratch.subarray(0, have), sum);
        inOff += inLen - inLeft;
        inLen = inLeft;
        const wait = this.#pace();
        if (wait !== undefined) {
          await wait;
          // Another check cannot have used this engine (one per check), but be plain about it.
          if (engine.errored !== null || engine._handle === null) {
            return `${name}: corrupt compressed data (zlib closed)`;
          }
        }
        // Output space left: zlib took all it could of this piece (or the stream ended).
        if (outLeft !== 0) break;
      }
    }
    if (got !== size) return `${name}: ${got} bytes, declared ${size}`;
    if (sum >>> 0 !== crc >>> 0) return `${name}: CRC-32 mismatch`;
    return undefined;
  }

  /** Frees the engine (the check is over). */
  close(): void {
    this.#engine?.destroy();
    this.#engine = undefined;
  }
}

/**
 * EntryInflater's fallback: the entry joined (a copy only when it spans pieces) and inflated in
 * one `inflateRawSync` bounded by its declared size.
 */
function wholeEntryProblem(
  name: string,
  pieces: readonly Buffer[],
  size: number,
  crc: number,
  kept?: { bytes?: Buffer },
): string | undefined {
  const data = pieces.length === 1 ? (pieces[0] as Buffer) : Buffer.concat(pieces);
  let content: Buffer;
  try {
    content = inflateRawSync(data, { maxOutputLength: size + 1, chunkSize: SCRATCH_BYTES });
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (code === 'ERR_BUFFER_TOO_LARGE') return `${name}: inflates past its declared size`;
    return `${name}: corrupt compressed data (${err instanceof Error ? err.message : String(err)})`;
  }
  if (content.length > size) return `${name}: inflates past its declared size`;
  if (content.length !== size) return `${name}: ${content.length} bytes, declared ${size}`;
  if (crc32(content) >>> 0 !== crc >>> 0) return `${name}: CRC-32 mismatch`;
  if (kept !== undefined) kept.bytes = content;
  return undefined;
}

/**
 * One entry of a zip held in memory, checked without yauzl: its local header located, its data
 * inflated through the check's EntryInflater (bounded by the declared size: a small zip
 * claiming a huge file never gets an output buffer larger than 64 KiB) and compared with the
 * declared size and CRC-32; a stored entry CRC'd in place. A stream per entry (yauzl's
 * openReadStream: a zlib stream and its thread-pool round trips) cost ~40 ms of CPU per proxied
 * module zip of a few hundred files, doubling a cold `go mod download`'s CPU. Encrypted entries
 * are refused (`go` cannot extract them).
 */
async function entryProblemInMemory(
  zip: ChunkedBytes,
  entry: CentralEntry,
  inflater: EntryInflater,
  kept?: { bytes?: Buffer },
): Promise<string | undefined> {
  const name = JSON.stringify(entry.fileName.slice(0, 200));
  if ((entry.generalPurposeBitFlag & 1) !== 0) return `${name}: entry is encrypted`;
  const at = entry.relativeOffsetOfLocalHeader;
  if (
    !(at + LOCAL_HEADER_BYTES <= zip.length) ||
    zip.readUInt32LE(at) !== LOCAL_FILE_HEADER_SIGNATURE
  ) {
    return `${name}: invalid local file header`;
  }
  const start = at + LOCAL_HEADER_BYTES + zip.readUInt16LE(at + 26) + zip.readUInt16LE(at + 28);
  const end = start + entry.compressedSize;
  if (!(end <= zip.length)) return `${name}: its data runs past the end of the archive`;
  // Views of the chunks the body arrived in: nothing copied, a stored entry not either.
  const data = zip.pieces(start, end);
  const size = entry.uncompressedSize;
  if (entry.compressionMethod === 0) {
    if (end - start !== size) return `${name}: ${end - start} bytes, declared ${size}`;
    let sum = 0;
    for (const piece of data) sum = crc32(piece, sum);
    if (sum >>> 0 !== entry.crc32 >>> 0) return `${name}: CRC-32 mismatch`;
    if (kept !== undefined) kept.bytes = Buffer.concat(data, size);
    return undefined;
  }
  if (entry.compressionMethod === 8) {
    // The bytes wanted (an upload's go.mod, at most 16 MiB): inflated whole, the same checks.
    if (kept !== undefined) return wholeEntryProblem(name, data, size, entry.crc32, kept);
    return inflater.problem(name, data, size, entry.crc32);
  }
  return `${name}: unsupported compression method ${entry.compressionMethod}`;
}

/** The one-line reason of a yauzl or zlib error about an archive; other errors are rethrown. */
function problemOf(err: unknown): string {
  const zipError = asZipError(err);
  if (zipError instanceof RegistryError)
    return zipError.message.replace(/^invalid module zip: /, '');
  throw err;
}
