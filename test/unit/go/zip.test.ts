/**
 * Module zips: building one from a directory as golang.org/x/mod/zip CreateFromDir does
 * (zip-create.ts, used by `nora go publish`) and reading it back through the server's checks
 * (zip.ts), plus go.mod's module line.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { listModuleFiles, writeModuleZip } from '../../../src/formats/go/zip-create.ts';
import {
  checkModuleZip,
  isVendoredPackage,
  parseModulePath,
  zipIntegrityProblem,
} from '../../../src/formats/go/zip.ts';
import { tempDir } from '../../helpers/tmp.ts';

test('parseModulePath: plain, quoted, backquoted, block form, comments', () => {
  assert.equal(parseModulePath('module example.com/a\n\ngo 1.19\n'), 'example.com/a');
  assert.equal(parseModulePath('// c\nmodule "gopkg.in/yaml.v3"\n'), 'gopkg.in/yaml.v3');
  assert.equal(parseModulePath('module `example.com/b` // x\n'), 'example.com/b');
  assert.equal(parseModulePath('module (\n  example.com/c\n)\n'), 'example.com/c');
  assert.equal(parseModulePath('module example.com/d // comment\r\n'), 'example.com/d');
  assert.equal(parseModulePath('go 1.19\n'), undefined);
  assert.equal(parseModulePath('modulex example.com/e\n'), undefined);
});

test('isVendoredPackage follows x/mod/zip (vendor/modules.txt is not vendored)', () => {
  assert.equal(isVendoredPackage('vendor/modules.txt'), false);
  assert.equal(isVendoredPackage('vendor/a.b/c/c.go'), true);
  assert.equal(isVendoredPackage('x/vendor/y/z.go'), true);
  // x/mod/zip's documented false positive (its offset is wrong, kept for checksum stability).
  assert.equal(isVendoredPackage('x/vendor/z.go'), true);
  assert.equal(isVendoredPackage('vendored/z.go'), false);
});

test('a directory becomes a zip the server accepts; VCS, nested modules, vendor, links omitted', async () => {
  await using work = await tempDir('nora-go-zip-');
  const dir = path.join(work.path, 'm');
  const files: Record<string, string> = {
    'go.mod': 'module example.com/m\n\ngo 1.19\n',
    'm.go': 'package m\n',
    LICENSE: 'MIT\n',
    'sub/s.go': 'package sub\n',
    'héllo/ü.go': 'package h\n',
    '.git/config': '[core]\n',
    'nested/go.mod': 'module example.com/m/nested\n',
    'nested/n.go': 'package nested\n',
    'vendor/modules.txt': '# example.com/x v1.0.0\n',
    'vendor/example.com/x/x.go': 'package x\n',
  };
  for (const [name, text] of Object.entries(files)) {
    await fs.mkdir(path.dirname(path.join(dir, name)), { recursive: true });
    await fs.writeFile(path.join(dir, name), text);
  }
  await fs.symlink('/etc/passwd', path.join(dir, 'link.go'));
  const listed = await listModuleFiles(dir);
  assert.deepEqual(listed.files.map((f) => f.path).sort(), [
    'LICENSE',
    'go.mod',
    'héllo/ü.go',
    'm.go',
    'sub/s.go',
    'vendor/modules.txt',
  ]);
  assert.deepEqual(listed.omitted.map((o) => o.path).sort(), [
    '.git',
    'link.go',
    'nested',
    'vendor/example.com/x',
  ]);
  const out = path.join(work.path, 'm.zip');
  const size = await writeModuleZip(out, 'example.com/m', 'v1.2.3', listed.files);
  assert.equal((await fs.stat(out)).size, size);
  const checked = await checkModuleZip(out, size, 'example.com/m', 'v1.2.3', 1 << 20);
  assert.equal(checked.files, 6);
  assert.equal(checked.goMod?.toString(), files['go.mod']);
  // The directories holding Go files: the packages the module provides (vendor/ holds none).
  assert.deepEqual(checked.packageDirs, ['', 'héllo', 'sub']);
  // The same zip under another version is refused (prefix), and a smaller bound is 413.
  await assert.rejects(checkModuleZip(out, size, 'example.com/m', 'v1.2.4', 1 << 20), /prefix/);
  await assert.rejects(checkModuleZip(out, size, 'example.com/m', 'v1.2.3', 100), /too large/);
});

test('invalid file names and go.mod case stop the build with the file named', async () => {
  await using work = await tempDir('nora-go-zip-bad-');
  await fs.writeFile(path.join(work.path, 'go.mod'), 'module example.com/m\n');
  await fs.writeFile(path.join(work.path, 'a:b.go'), 'package m\n');
  await assert.rejects(listModuleFiles(work.path), /malformed file path "a:b\.go"/);
  await fs.rm(path.join(work.path, 'a:b.go'));
  await fs.mkdir(path.join(work.path, 'x'));
  await fs.writeFile(path.join(work.path, 'x', 'GO.MOD'), 'module y\n');
  await assert.rejects(listModuleFiles(work.path), /x\/GO\.MOD: go\.mod files must be lowercase/);
});

test('zipIntegrityProblem: in memory and from a file, the same verdicts (intact, damaged deflate, wrong size, stored entry, damaged stored entry)', async () => {
  await using dir = await tempDir('nora-go-zip-integrity-');
  const text = path.join(dir.path, 'a.go');
  await fs.writeFile(text, 'package a\n\n'.concat('// deflates well\n'.repeat(2000)));
  const noise = path.join(dir.path, 'noise.bin');
  // Bytes that do not deflate are stored (method 0).
  await fs.writeFile(noise, randomBytes(4096));
  const out = path.join(dir.path, 'm.zip');
  await writeModuleZip(out, 'example.com/m', 'v1.0.0', [
    { path: 'go.mod', localPath: text, size: 0 },
    { path: 'a.go', localPath: text, size: 0 },
    { path: 'noise.bin', localPath: noise, size: 0 },
  ]);
  const zip = await fs.readFile(out);
  const verdicts = async (bytes: Buffer): Promise<[string | undefined, string | undefined]> => {
    const file = path.join(dir.path, 'check.zip');
    await fs.writeFile(file, bytes);
    return [await zipIntegrityProblem(bytes), await zipIntegrityProblem(file)];
  };
  assert.deepEqual(await verdicts(zip), [undefined, undefined]);

  // Offsets of each entry's data, from the local headers (30 bytes + name + extra).
  const entries: { name: string; method: number; start: number; size: number }[] = [];
  for (let at = 0; zip.readUInt32LE(at) === 0x04034b50;) {
    const nameLength = zip.readUInt16LE(at + 26);
    const start = at + 30 + nameLength + zip.readUInt16LE(at + 28);
    const size = zip.readUInt32LE(at + 18);
    const name = zip.subarray(at + 30, at + 30 + nameLength).toString();
    entries.push({ name, method: zip.readUInt16LE(at + 8), start, size });
    at = start + size;
  }
  const deflated = entries.find((e) => e.name.endsWith('/a.go'));
  const stored = entries.find((e) => e.name.endsWith('/noise.bin'));
  assert.ok(deflated !== undefined && stored !== undefined);
  assert.equal(deflated.method, 8);
  assert.equal(stored.method, 0);

  const flipped = (at: number): Buffer => {
    const copy = Buffer.from(zip);
    copy[at] = (copy[at] ?? 0) ^ 0x55;
    return copy;
  };
  for (const bytes of [
    flipped(deflated.start + Math.floor(deflated.size / 2)),
    flipped(stored.start + 100),
  ]) {
    const [inMemory, fromFile] = await verdicts(bytes);
    assert.ok(inMemory !== undefined && fromFile !== undefined, `${inMemory} / ${fromFile}`);
    assert.match(inMemory, /^"example\.com\/m@v1\.0\.0\/(a\.go|noise\.bin)": /);
  }
  // An entry claiming more than Go's 500 MiB of contents is refused before anything inflates.
  const claiming = Buffer.from(zip);
  const central = claiming.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]));
  claiming.writeUInt32LE(600 * 1024 * 1024, central + 24);
  for (const verdict of await verdicts(claiming)) assert.match(verdict ?? '', /too large/);
  const [stillIntact] = await verdicts(flipped(stored.start - 1));
  assert.equal(
    stillIntact,
    undefined,
    "a byte of the entry's name in its local header is not data",
  );
});
