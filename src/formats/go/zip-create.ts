/**
 * Building a module zip from a directory, as golang.org/x/mod/zip CreateFromDir does (used by
 * `nora go publish`): the files below `dir` except version-control directories (`.git`, `.hg`,
 * `.svn`, `.bzr`), subdirectories holding their own go.mod (nested modules, published on their
 * own), files of vendored packages (`vendor/<pkg>/…`; `vendor/modules.txt` stays), symbolic links
 * and other irregular files, and `.hg_archival.txt`; each stored as
 * `<module>@<version>/<path>`, deflated, without Unix modes (as the `go` command writes them).
 *
 * A small writer of our own (local headers, central directory, end record; no ZIP64, which a
 * module zip under 500 MiB never needs) instead of a zip-writing dependency: ~100 lines, and the
 * module zip rules decide everything else.
 */
import { createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { once } from 'node:events';
import { crc32, deflateRawSync } from 'node:zlib';
import { checkFilePath } from './module.ts';
import { isVendoredPackage, MAX_GO_MOD, MAX_LICENSE, MAX_ZIP_FILE } from './zip.ts';

/** A file going into the zip: its slash path relative to the module root, and where it is. */
export interface ModuleFile {
  readonly path: string;
  readonly localPath: string;
  readonly size: number;
}

/** Files left out of the zip and why (for `nora go publish` to tell). */
export interface OmittedFile {
  readonly path: string;
  readonly reason: string;
}

const VCS_DIRS = new Set(['.bzr', '.git', '.hg', '.svn']);

/** The reason of an entry left out because the version-control tool ignores it. */
export const IGNORED_BY_GIT = 'ignored by git';

/** The reason of a version-control directory left out (`.git`, `.hg`, …: never in a zip). */
export const VERSION_CONTROL = 'directory is a version control repository';

/**
 * The files git would put in a commit of the work tree below a directory (`git ls-files`
 * tracked + untracked-not-ignored, slash paths relative to that directory): the module zip of a
 * git checkout holds only these, as a zip the `go` command makes from the repository does.
 */
export interface GitFileSet {
  readonly files: ReadonlySet<string>;
  /** Every directory holding one of `files` (at any depth), slash paths. */
  readonly dirs: ReadonlySet<string>;
}

/** A GitFileSet from `git ls-files -z` output (paths relative to the module root). */
export function gitFileSet(lsFilesZ: string): GitFileSet {
  const files = new Set<string>();
  const dirs = new Set<string>();
  for (const name of lsFilesZ.split('\0')) {
    if (name === '') continue;
    // A nested repository `git` does not descend into is listed as `dir/`: nothing of it is kept.
    if (name.endsWith('/')) continue;
    files.add(name);
    for (let i = name.indexOf('/'); i !== -1; i = name.indexOf('/', i + 1)) {
      dirs.add(name.slice(0, i));
    }
  }
  return { files, dirs };
}

/**
 * Lists the files of the module rooted at `dir` by the module zip rules (x/mod/zip
 * listFilesInDir + checkFiles). Throws an Error naming the file for an invalid file path, a
 * go.mod spelled in another case, or a size over the limits. With `git`, files and directories
 * outside that set (ignored by git: `.env`, `node_modules/`) are left out too, with the reason
 * IGNORED_BY_GIT (a directory is one entry, `name/`, not walked).
 */
export async function listModuleFiles(
  dir: string,
  git?: GitFileSet,
): Promise<{ files: ModuleFile[]; omitted: OmittedFile[] }> {
  const files: ModuleFile[] = [];
  const omitted: OmittedFile[] = [];
  async function walk(abs: string, rel: string): Promise<void> {
    const entries = await fs.readdir(abs, { withFileTypes: true });
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      const relPath = rel === '' ? entry.name : `${rel}/${entry.name}`;
      const absPath = path.join(abs, entry.name);
      if (git !== undefined && !VCS_DIRS.has(entry.name)) {
        const kept = entry.isDirectory() ? git.dirs.has(relPath) : git.files.has(relPath);
        if (!kept) {
          // An empty directory is no file of the zip either way: not worth a word.
          if (entry.isDirectory() && (await fs.readdir(absPath)).length === 0) continue;
          omitted.push({
            path: entry.isDirectory() ? `${relPath}/` : relPath,
            reason: IGNORED_BY_GIT,
          });
          continue;
        }
      }
      if (isVendoredPackage(relPath)) {
        omitted.push({ path: relPath, reason: 'file is in vendor directory' });
        continue;
      }
      if (entry.isDirectory()) {
        if (VCS_DIRS.has(entry.name)) {
          omitted.push({ path: relPath, reason: VERSION_CONTROL });
          continue;
        }
        const goMod = await fs.lstat(path.join(absPath, 'go.mod')).catch(() => undefined);
        if (goMod !== undefined && !goMod.isDirectory()) {
          omitted.push({ path: relPath, reason: 'directory is in another module' });
          continue;
        }
        await walk(absPath, relPath);
        continue;
      }
      if (!entry.isFile()) {
        omitted.push({ path: relPath, reason: 'not a regular file (symbolic link?)' });
        continue;
      }
      if (relPath === '.hg_archival.txt') {
        omitted.push({ path: relPath, reason: 'file is inserted by hg archive' });
        continue;
      }
      const err = checkFilePath(relPath);
      if (err !== undefined) throw new Error(err);
      // The server (x/mod/zip CheckZip) refuses any other spelling, and a go.mod deeper down
      // (a case variant: the real ones made their directory a nested module above).
      if (entry.name.toLowerCase() === 'go.mod' && relPath !== 'go.mod') {
        throw new Error(`${relPath}: go.mod files must be lowercase and only at the module root`);
      }
      const { size } = await fs.stat(absPath);
      if (relPath === 'go.mod' && size > MAX_GO_MOD) {
        throw new Error(`go.mod file too large (max size is ${MAX_GO_MOD} bytes)`);
      }
      if (relPath === 'LICENSE' && size > MAX_LICENSE) {
        throw new Error(`LICENSE file too large (max size is ${MAX_LICENSE} bytes)`);
      }
      files.push({ path: relPath, localPath: absPath, size });
    }
  }
  await walk(dir, '');
  const total = files.reduce((sum, f) => sum + f.size, 0);
  if (total > MAX_ZIP_FILE) {
    throw new Error(`module source tree too large (max size is ${MAX_ZIP_FILE} bytes)`);
  }
  const folded = new Map<string, string>();
  for (const f of files) {
    const other = folded.get(f.path.toLowerCase());
    if (other !== undefined) {
      throw new Error(`case-insensitive file name collision: "${other}" and "${f.path}"`);
    }
    folded.set(f.path.toLowerCase(), f.path);
  }
  return { files, omitted };
}

/** DOS date of 1980-01-01 (time 00:00): a fixed stamp, so one tree gives one zip. */
const DOS_DATE = (0 << 9) | (1 << 5) | 1;
const DOS_TIME = 0;

/**
 * Writes the module zip of `files` for `module@version` to `outPath`; returns its size in bytes.
 * Entries are deflated (stored when that is not smaller), names UTF-8 flagged when not ASCII.
 */
export async function writeModuleZip(
  outPath: string,
  module: string,
  version: string,
  files: readonly ModuleFile[],
): Promise<number> {
  if (files.length > 0xffff) throw new Error('more than 65535 files: ZIP64 is not supported');
  const out = createWriteStream(outPath, { flags: 'w' });
  let offset = 0;
  const central: Buffer[] = [];
  const write = async (buf: Buffer): Promise<void> => {
    offset += buf.length;
    if (!out.write(buf)) await once(out, 'drain');
  };
  try {
    for (const file of files) {
      const name = Buffer.from(`${module}@${version}/${file.path}`, 'utf8');
      const data = await fs.readFile(file.localPath);
      const crc = crc32(data) >>> 0;
      const deflated = deflateRawSync(data);
      const method = deflated.length < data.length ? 8 : 0;
      const body = method === 8 ? deflated : data;
      const flags = Buffer.byteLength(file.path) !== file.path.length ? 0x0800 : 0;
      const local = Buffer.alloc(30);
      local.writeUInt32LE(0x04034b50, 0);
      local.writeUInt16LE(20, 4); // version needed
      local.writeUInt16LE(flags, 6);
      local.writeUInt16LE(method, 8);
      local.writeUInt16LE(DOS_TIME, 10);
      local.writeUInt16LE(DOS_DATE, 12);
      local.writeUInt32LE(crc, 14);
      local.writeUInt32LE(body.length, 18);
      local.writeUInt32LE(data.length, 22);
      local.writeUInt16LE(name.length, 26);
      local.writeUInt16LE(0, 28);
      const localOffset = offset;
      await write(local);
      await write(name);
      await write(body);
      const cd = Buffer.alloc(46);
      cd.writeUInt32LE(0x02014b50, 0);
      cd.writeUInt16LE(20, 4); // made by: MS-DOS (no Unix mode, as `go` writes them), 2.0
      cd.writeUInt16LE(20, 6);
      cd.writeUInt16LE(flags, 8);
      cd.writeUInt16LE(method, 10);
      cd.writeUInt16LE(DOS_TIME, 12);
      cd.writeUInt16LE(DOS_DATE, 14);
      cd.writeUInt32LE(crc, 16);
      cd.writeUInt32LE(body.length, 20);
      cd.writeUInt32LE(data.length, 24);
      cd.writeUInt16LE(name.length, 28);
      // extra, comment, disk, internal attrs, external attrs: zero
      cd.writeUInt32LE(localOffset, 42);
      central.push(cd, name);
    }
    const cdOffset = offset;
    const cdBytes = Buffer.concat(central);
    await write(cdBytes);
    const end = Buffer.alloc(22);
    end.writeUInt32LE(0x06054b50, 0);
    end.writeUInt16LE(files.length, 8);
    end.writeUInt16LE(files.length, 10);
    end.writeUInt32LE(cdBytes.length, 12);
    end.writeUInt32LE(cdOffset, 16);
    await write(end);
  } finally {
    out.end();
    await once(out, 'close');
  }
  return offset;
}
