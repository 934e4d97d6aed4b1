/**
 * Module zips: building one from a directory as golang.org/x/mod/zip CreateFromDir does
 * (zip-create.ts, used by `nora go publish`) and reading it back through the server's checks
 * (zip.ts), plus go.mod's module line.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import { syncBuiltinESMExports } from 'node:module';
import path from 'node:path';
import { test } from 'node:test';
import zlib, { crc32 } from 'node:zlib';
import { listModuleFiles, writeModuleZip } from '../../../src/formats/go/zip-create.ts';
import {
  checkModuleZip,
  isVendoredPackage,
  parseModulePath,
  setInMemoryUploadBytesForTests,
  useInflateRawSyncForTests,
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

/**
 * A module zip of `entries` files under `dir`: go.mod, then small Go files of `lines` comment
 * lines (they deflate well) spread over `dirs` folders; with `big`, that file as its second entry.
 */
async function smallEntriesZip(
  dir: string,
  shape: { entries: number; dirs: number; lines: number; big?: string },
): Promise<Buffer> {
  const text = path.join(dir, 'a.go');
  await fs.writeFile(
    text,
    'package a\n\n'.concat('// deflates well, a line of text\n'.repeat(shape.lines)),
  );
  const out = path.join(dir, 'm.zip');
  const files = Array.from({ length: shape.entries }, (_, i) => {
    if (i === 0) return { path: 'go.mod', localPath: text, size: 0 };
    if (i === 1 && shape.big !== undefined)
      return { path: 'big.txt', localPath: shape.big, size: 0 };
    return { path: `p${i % shape.dirs}/f${i}.go`, localPath: text, size: 0 };
  });
  await writeModuleZip(out, 'example.com/m', 'v1.0.0', files);
  return fs.readFile(out);
}

/** zipIntegrityProblem's verdicts on `bytes` in memory and from a file in `dir`. */
function verdictsIn(
  dir: string,
): (bytes: Buffer) => Promise<[string | undefined, string | undefined]> {
  const file = path.join(dir, 'check.zip');
  return async (bytes) => {
    await fs.writeFile(file, bytes);
    const inMemory = await zipIntegrityProblem(bytes);
    // The chunks a proxied body arrived in, read in place: the same verdict however it is cut.
    for (const size of bytes.length <= 100_000 ? [1, 7, 4096] : [7, 65_536]) {
      const chunks: Buffer[] = [];
      for (let at = 0; at < bytes.length; at += size) chunks.push(bytes.subarray(at, at + size));
      assert.equal(await zipIntegrityProblem(chunks), inMemory, `in chunks of ${size} bytes`);
    }
    return [inMemory, await zipIntegrityProblem(file)];
  };
}

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
  const verdicts = verdictsIn(dir.path);
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

/** Offsets in a zip written by writeModuleZip (no comment, no zip64). */
function layout(zip: Buffer): { end: number; central: number; count: number } {
  const end = zip.length - 22;
  assert.equal(zip.readUInt32LE(end), 0x06054b50);
  return { end, central: zip.readUInt32LE(end + 16), count: zip.readUInt16LE(end + 10) };
}

test('zipIntegrityProblem in memory: malformed central directories are refused as from a file (truncated, lying sizes and counts, overlapping entries, bombs)', async () => {
  await using dir = await tempDir('nora-go-zip-malformed-');
  const text = path.join(dir.path, 'a.go');
  await fs.writeFile(text, 'package a\n\n'.concat('// deflates well\n'.repeat(2000)));
  const other = path.join(dir.path, 'b.go');
  await fs.writeFile(other, 'package a\n\n'.concat('// another file\n'.repeat(300)));
  const out = path.join(dir.path, 'm.zip');
  await writeModuleZip(out, 'example.com/m', 'v1.0.0', [
    { path: 'go.mod', localPath: other, size: 0 },
    { path: 'a.go', localPath: text, size: 0 },
    { path: 'b.go', localPath: other, size: 0 },
  ]);
  const zip = await fs.readFile(out);
  const { end, central, count } = layout(zip);
  assert.equal(count, 3);
  const verdicts = verdictsIn(dir.path);
  const refusedBoth = async (bytes: Buffer, why: string, pattern?: RegExp): Promise<void> => {
    const [inMemory, fromFile] = await verdicts(bytes);
    assert.ok(inMemory !== undefined, `${why}: refused in memory`);
    assert.ok(fromFile !== undefined, `${why}: refused from a file`);
    if (pattern !== undefined) assert.match(inMemory, pattern, why);
  };
  const edited = (edit: (copy: Buffer) => void): Buffer => {
    const copy = Buffer.from(zip);
    edit(copy);
    return copy;
  };
  const second = central + 46 + zip.readUInt16LE(central + 28) + zip.readUInt16LE(central + 30);

  assert.deepEqual(await verdicts(zip), [undefined, undefined]);
  // Truncated: the end record gone, the central directory cut, the data cut.
  await refusedBoth(zip.subarray(0, zip.length - 5), 'no end record', /End of central directory/);
  await refusedBoth(
    Buffer.concat([zip.subarray(0, central + 20), zip.subarray(end)]),
    'central directory cut',
  );
  await refusedBoth(zip.subarray(central), 'local headers and data cut');
  // Extra bytes after the end record (its comment length does not reach the end).
  await refusedBoth(Buffer.concat([zip, Buffer.from('junk')]), 'trailing bytes');
  // An entry count that lies upwards (a record past the directory) or downwards (Go refuses it;
  // yauzl read the counted records only, so this is refused in memory alone).
  await refusedBoth(
    edited((c) => {
      c.writeUInt16LE(4, end + 8);
      c.writeUInt16LE(4, end + 10);
    }),
    'count too high',
  );
  const low = edited((c) => {
    c.writeUInt16LE(2, end + 8);
    c.writeUInt16LE(2, end + 10);
  });
  assert.match((await zipIntegrityProblem(low)) ?? '', /counts 2 entries/);
  // A central directory offset past the end, or pointing at data.
  await refusedBoth(
    edited((c) => c.writeUInt32LE(zip.length + 10, end + 16)),
    'offset past end',
  );
  await refusedBoth(
    edited((c) => c.writeUInt32LE(10, end + 16)),
    'offset into data',
  );
  // Lying sizes: uncompressed larger or smaller than the data inflates to, compressed larger
  // than the archive, a local header offset past the end or not at a local header.
  const size = zip.readUInt32LE(second + 24);
  await refusedBoth(
    edited((c) => c.writeUInt32LE(size + 1, second + 24)),
    'size +1',
  );
  await refusedBoth(
    edited((c) => c.writeUInt32LE(size - 1, second + 24)),
    'size -1',
  );
  await refusedBoth(
    edited((c) => c.writeUInt32LE(zip.length, second + 20)),
    'compressed too big',
  );
  await refusedBoth(
    edited((c) => c.writeUInt32LE(zip.length, second + 42)),
    'offset past end',
  );
  await refusedBoth(
    edited((c) => c.writeUInt32LE(5, second + 42)),
    'offset not a header',
  );
  // A name field running past the archive.
  await refusedBoth(
    edited((c) => c.writeUInt16LE(0xffff, second + 28)),
    'long name',
  );
  // Overlapping entries: the second record names the first's local header and data. Each
  // inflates as declared, so neither yauzl nor `go` refuses it: still accepted, and bounded
  // by the contents limit below.
  const overlapping = edited((c) => {
    zip.copy(c, second + 10, central + 10, central + 28);
    c.writeUInt32LE(zip.readUInt32LE(central + 42), second + 42);
  });
  assert.deepEqual(await verdicts(overlapping), [undefined, undefined]);
  // A bomb: a record claiming 300 MiB of a small deflate stream is refused once the stream
  // ends short (the output is bounded by the claim); more than Go's 500 MiB claimed in all is
  // refused before anything inflates (the test above).
  await refusedBoth(
    edited((c) => c.writeUInt32LE(300 * 1024 * 1024, second + 24)),
    '300 MiB claimed',
  );
  // Unsupported method, encrypted entry, absolute and `..` names.
  await refusedBoth(
    edited((c) => c.writeUInt16LE(12, second + 10)),
    'bzip2 method',
  );
  await refusedBoth(
    edited((c) => c.writeUInt16LE(c.readUInt16LE(second + 8) | 1, second + 8)),
    'encrypted',
  );
  const nameAt = second + 46;
  await refusedBoth(
    edited((c) => c.write('/', nameAt)),
    'absolute',
    /absolute path/,
  );
  await refusedBoth(
    edited((c) => c.write('../', nameAt)),
    'dot-dot',
    /invalid relative path/,
  );
  // `example.com/../1.0.0/b.go`: a `..` element inside the name.
  await refusedBoth(
    edited((c) => c.write('/../', nameAt + 11)),
    'inner dot-dot',
    /relative path/,
  );
});

test('zipIntegrityProblem in memory: an entry over 8 MiB inflates as a stream, checked the same', async () => {
  await using dir = await tempDir('nora-go-zip-large-');
  const big = path.join(dir.path, 'big.txt');
  await fs.writeFile(big, Buffer.alloc(9 * 1024 * 1024, 'a'));
  const out = path.join(dir.path, 'm.zip');
  await writeModuleZip(out, 'example.com/m', 'v1.0.0', [
    { path: 'big.txt', localPath: big, size: 0 },
  ]);
  const zip = await fs.readFile(out);
  assert.ok(zip.length < 64 * 1024, 'deflated small');
  assert.equal(await zipIntegrityProblem(zip), undefined);
  const { central } = layout(zip);
  const size = zip.readUInt32LE(central + 24);
  for (const [claimed, pattern] of [
    [size - 1, /inflates past/],
    [size + 1, /bytes, declared/],
  ] as const) {
    const copy = Buffer.from(zip);
    copy.writeUInt32LE(claimed, central + 24);
    assert.match((await zipIntegrityProblem(copy)) ?? '', pattern);
  }
  const crc = Buffer.from(zip);
  crc.writeUInt32LE(crc.readUInt32LE(central + 16) ^ 1, central + 16);
  assert.match((await zipIntegrityProblem(crc)) ?? '', /CRC-32 mismatch/);
});

/**
 * A zip64 archive of one stored entry, built by hand (APPNOTE.TXT 4.3.14–16, 4.5.3): every size
 * and offset in the 32-bit fields is 0xffffffff and read from the zip64 extra field and record,
 * as Go's archive/zip writes an archive over 4 GiB or 65535 entries.
 */
function zip64Of(name: string, data: Buffer): Buffer {
  const nameBytes = Buffer.from(name);
  const crc = crc32(data);
  const local = Buffer.alloc(30);
  local.writeUInt32LE(0x04034b50, 0);
  local.writeUInt16LE(45, 4);
  local.writeUInt32LE(crc, 14);
  local.writeUInt32LE(data.length, 18);
  local.writeUInt32LE(data.length, 22);
  local.writeUInt16LE(nameBytes.length, 26);
  const centralAt = 30 + nameBytes.length + data.length;
  const central = Buffer.alloc(46);
  central.writeUInt32LE(0x02014b50, 0);
  central.writeUInt16LE(45, 4);
  central.writeUInt16LE(45, 6);
  central.writeUInt32LE(crc, 16);
  central.writeUInt32LE(0xffffffff, 20);
  central.writeUInt32LE(0xffffffff, 24);
  central.writeUInt16LE(nameBytes.length, 28);
  central.writeUInt16LE(28, 30);
  central.writeUInt32LE(0xffffffff, 42);
  const extra = Buffer.alloc(28);
  extra.writeUInt16LE(1, 0);
  extra.writeUInt16LE(24, 2);
  extra.writeBigUInt64LE(BigInt(data.length), 4);
  extra.writeBigUInt64LE(BigInt(data.length), 12);
  extra.writeBigUInt64LE(0n, 20);
  const centralSize = 46 + nameBytes.length + 28;
  const record = Buffer.alloc(56);
  record.writeUInt32LE(0x06064b50, 0);
  record.writeBigUInt64LE(44n, 4);
  record.writeBigUInt64LE(1n, 24);
  record.writeBigUInt64LE(1n, 32);
  record.writeBigUInt64LE(BigInt(centralSize), 40);
  record.writeBigUInt64LE(BigInt(centralAt), 48);
  const locator = Buffer.alloc(20);
  locator.writeUInt32LE(0x07064b50, 0);
  locator.writeBigUInt64LE(BigInt(centralAt + centralSize), 8);
  locator.writeUInt32LE(1, 16);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(0xffff, 8);
  end.writeUInt16LE(0xffff, 10);
  end.writeUInt32LE(0xffffffff, 12);
  end.writeUInt32LE(0xffffffff, 16);
  return Buffer.concat([local, nameBytes, data, central, nameBytes, extra, record, locator, end]);
}

test('zipIntegrityProblem in memory: zip64 sizes and offsets are read from the extra field and record, as yauzl reads them', async () => {
  await using dir = await tempDir('nora-go-zip64-');
  const zip = zip64Of('example.com/m@v1.0.0/a.txt', Buffer.from('hello zip64\n'));
  const verdicts = verdictsIn(dir.path);
  assert.deepEqual(await verdicts(zip), [undefined, undefined]);
  // The extra field one field short: the offset is missing.
  const short = Buffer.from(zip);
  const central = zip.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]));
  short.writeUInt16LE(16, central + 46 + 26 + 2);
  for (const verdict of await verdicts(short)) assert.ok(verdict !== undefined);
  assert.match((await zipIntegrityProblem(short)) ?? '', /does not include relative header offset/);
  // A damaged byte of the data.
  const damaged = Buffer.from(zip);
  damaged[30 + 26] = 0x58;
  for (const verdict of await verdicts(damaged)) assert.match(verdict ?? '', /CRC-32 mismatch/);
  // A size past 2^53 in the zip64 field: refused (in memory, and as an upload: a 400, not a 500).
  const huge = Buffer.from(zip);
  huge.writeBigUInt64LE(1n << 60n, central + 46 + 26 + 4);
  assert.match((await zipIntegrityProblem(huge)) ?? '', /out of range/);
  const file = path.join(dir.path, 'huge.zip');
  await fs.writeFile(file, huge);
  await assert.rejects(
    checkModuleZip(file, huge.length, 'example.com/m', 'v1.0.0', 1 << 20),
    (err: unknown) => err instanceof Error && 'status' in err && err.status === 400,
  );
});

test('zipIntegrityProblem in memory: a zip of many small entries lets the event loop turn while it is checked', async () => {
  // Small entries inflate synchronously; a zip of a thousand of them (x/sys has 412) must not
  // hold every other request until the whole check is done (the client's next answers wait).
  await using dir = await tempDir('nora-go-zip-turns-');
  const zip = await smallEntriesZip(dir.path, { entries: 1000, dirs: 50, lines: 200 });
  let turns = 0;
  let done = false;
  const turn = (): void => {
    if (done) return;
    turns++;
    setImmediate(turn);
  };
  setImmediate(turn);
  const started = performance.now();
  const problem = await zipIntegrityProblem(zip);
  const took = performance.now() - started;
  done = true;
  assert.equal(problem, undefined);
  assert.ok(took > 5, `the check took ${took.toFixed(1)} ms: too fast to tell`);
  assert.ok(turns > 0, `the event loop never turned during a ${took.toFixed(1)} ms check`);
});

test('zipIntegrityProblem in memory: entries inflate through one reused zlib context, with the verdicts of inflateRawSync per entry', async () => {
  // inflateRawSync per entry (a zlib stream object, a native context, a fresh output buffer of
  // the entry's size) cost about twice the inflating itself on a cold `go mod download`.
  await using dir = await tempDir('nora-go-zip-reuse-');
  const big = path.join(dir.path, 'big.txt');
  // Over the 64 KiB scratch buffer: inflated in pieces.
  await fs.writeFile(big, Array.from({ length: 40_000 }, (_, i) => `line ${i * 7919}\n`).join(''));
  const zip = await smallEntriesZip(dir.path, { entries: 200, dirs: 20, lines: 300, big });

  const original = zlib.inflateRawSync;
  let calls = 0;
  const counted: typeof original = (...args) => {
    calls++;
    return original(...args);
  };
  zlib.inflateRawSync = counted;
  syncBuiltinESMExports();
  try {
    assert.equal(await zipIntegrityProblem(zip), undefined);
    assert.equal(calls, 0, 'no inflateRawSync per entry');
    useInflateRawSyncForTests(true);
    assert.equal(await zipIntegrityProblem(zip), undefined);
    const fallbackCalls: number = calls;
    assert.ok(fallbackCalls >= 199, `the fallback inflates each entry (${fallbackCalls} calls)`);
  } finally {
    useInflateRawSyncForTests(false);
    zlib.inflateRawSync = original;
    syncBuiltinESMExports();
  }

  // Damaged copies: the same verdict either way (a flipped byte, the big entry's data cut
  // short or its declared size off by one, its CRC-32 wrong).
  const bigHeader = zip.indexOf(Buffer.from('example.com/m@v1.0.0/big.txt'));
  const dataStart =
    bigHeader + 'example.com/m@v1.0.0/big.txt'.length + zip.readUInt16LE(bigHeader - 2);
  const central = zip.indexOf(
    Buffer.concat([Buffer.from([0x50, 0x4b, 0x01, 0x02])]),
    zip.length - 22 - 200 * 120,
  );
  const record = zip.indexOf(Buffer.from('example.com/m@v1.0.0/big.txt'), central) - 46;
  const variants: [string, (b: Buffer) => void][] = [
    [
      'flipped',
      (b) => {
        b[dataStart + 500] = (b[dataStart + 500] ?? 0) ^ 0x55;
      },
    ],
    [
      'flipped late',
      (b) => {
        b[dataStart + 5000] = (b[dataStart + 5000] ?? 0) ^ 0x01;
      },
    ],
    ['size - 1', (b) => b.writeUInt32LE(b.readUInt32LE(record + 24) - 1, record + 24)],
    ['size + 1', (b) => b.writeUInt32LE(b.readUInt32LE(record + 24) + 1, record + 24)],
    ['crc', (b) => b.writeUInt32LE(b.readUInt32LE(record + 16) ^ 1, record + 16)],
    ['cut short', (b) => b.writeUInt32LE(100, record + 20)],
    [
      // No deflate data at all, claiming an empty file: not a deflate stream either.
      'no data, claims nothing',
      (b) => {
        b.writeUInt32LE(0, record + 16);
        b.writeUInt32LE(0, record + 20);
        b.writeUInt32LE(0, record + 24);
      },
    ],
  ];
  for (const [what, damage] of variants) {
    const copy = Buffer.from(zip);
    damage(copy);
    const reused = await zipIntegrityProblem(copy);
    useInflateRawSyncForTests(true);
    const fallback = await zipIntegrityProblem(copy).finally(() => {
      useInflateRawSyncForTests(false);
    });
    assert.ok(reused !== undefined, `${what}: refused`);
    assert.equal(reused, fallback, what);
  }
});

test('checkModuleZip: an upload up to 4 MiB is read as the proxy reads a zip, with the same rules and results as the yauzl walk of a larger one', async () => {
  await using dir = await tempDir('nora-go-zip-one-checker-');
  const write = async (name: string, text: string): Promise<string> => {
    const file = path.join(dir.path, name.replaceAll('/', '_'));
    await fs.writeFile(file, text);
    return file;
  };
  const goMod = await write('go.mod', 'module example.com/m\n\ngo 1.21\n');
  const code = await write('a.go', `package m\n\n// ${'text that deflates '.repeat(400)}\n`);
  const zipOf = async (
    files: { path: string; localPath: string }[],
    version = 'v1.0.0',
  ): Promise<{ file: string; bytes: Buffer }> => {
    const file = path.join(dir.path, 'm.zip');
    await writeModuleZip(
      file,
      'example.com/m',
      version,
      files.map((f) => ({ ...f, size: 0 })),
    );
    return { file, bytes: await fs.readFile(file) };
  };
  /** checkModuleZip in memory and through yauzl: the result or the error's message, each. */
  const both = async (bytes: Buffer, version = 'v1.0.0'): Promise<[unknown, unknown]> => {
    const file = path.join(dir.path, 'upload.zip');
    await fs.writeFile(file, bytes);
    const run = async (): Promise<unknown> =>
      checkModuleZip(file, bytes.length, 'example.com/m', version, 1 << 30).catch((err: unknown) =>
        err instanceof Error ? err.message : String(err),
      );
    const inMemory = await run();
    setInMemoryUploadBytesForTests(0);
    try {
      return [inMemory, await run()];
    } finally {
      setInMemoryUploadBytesForTests(4 * 1024 * 1024);
    }
  };

  const valid = await zipOf([
    { path: 'go.mod', localPath: goMod },
    { path: 'a.go', localPath: code },
    { path: 'sub/b.go', localPath: code },
    { path: 'README', localPath: code },
  ]);
  const [inMemory, walked] = await both(valid.bytes);
  assert.deepEqual(inMemory, walked);
  assert.equal(typeof inMemory, 'object');
  assert.deepEqual((inMemory as { packageDirs: string[] }).packageDirs, ['', 'sub']);

  const refusals: [string, Buffer, RegExp][] = [
    ['nested go.mod', (await zipOf([{ path: 'a/go.mod', localPath: goMod }])).bytes, /nested/],
    ['vendored', (await zipOf([{ path: 'vendor/x/y.go', localPath: code }])).bytes, /vendored/],
    ['other version', (await zipOf([{ path: 'a.go', localPath: code }], 'v1.0.1')).bytes, /prefix/],
    [
      'other module',
      (await zipOf([{ path: 'go.mod', localPath: await write('other.mod', 'module x.org/y\n') }]))
        .bytes,
      /declares module "x\.org\/y"/,
    ],
  ];
  // A symbolic link: a Unix creator and st_mode S_IFLNK in a.go's central directory record.
  const link = Buffer.from(valid.bytes);
  const record = link.indexOf(Buffer.from('example.com/m@v1.0.0/a.go'), layout(link).central) - 46;
  link.writeUInt16LE(0x031e, record + 4);
  link.writeUInt32LE((0o120777 << 16) >>> 0, record + 38);
  refusals.push(['symlink', link, /symbolic link/]);
  // A damaged deflate stream: the reason names the file either way.
  const damaged = Buffer.from(valid.bytes);
  const at = damaged.indexOf(Buffer.from('example.com/m@v1.0.0/a.go')) + 60;
  damaged[at] = (damaged[at] ?? 0) ^ 0x55;
  refusals.push(['damaged', damaged, /invalid module zip/]);
  for (const [what, bytes, reason] of refusals) {
    const [a, b] = await both(bytes);
    assert.match(String(a), reason, `${what}, in memory`);
    assert.match(String(b), reason, `${what}, through yauzl`);
    if (what !== 'damaged') assert.equal(a, b, what);
  }

  // What yauzl let through and `go` refuses: an end record counting fewer entries than the
  // central directory holds (yauzl read the counted ones only, archive/zip refuses the zip).
  const low = Buffer.from(valid.bytes);
  const { end, count } = layout(low);
  low.writeUInt16LE(count - 1, end + 8);
  low.writeUInt16LE(count - 1, end + 10);
  const [lowInMemory] = await both(low);
  assert.match(String(lowInMemory), /the end record counts 3 entries/);
});

test('checkModuleZip: an upload over 4 MiB is judged as a smaller one is (a short end record refused, names read as UTF-8 whatever their flag says)', async () => {
  await using dir = await tempDir('nora-go-zip-large-upload-');
  const write = async (name: string, data: string | Buffer): Promise<string> => {
    const file = path.join(dir.path, name);
    await fs.writeFile(file, data);
    return file;
  };
  const goMod = await write('go.mod', 'module example.com/m\n\ngo 1.21\n');
  const code = await write('a.go', 'package m\n');
  // Random bytes do not deflate: the zip is over 4 MiB, the size up to which an upload is
  // checked in memory; 1500 more entries put the central directory past the 64 KiB tail read
  // first for the end record.
  const big = await write('big.bin', randomBytes(4 * 1024 * 1024 + 4096));
  const out = path.join(dir.path, 'm.zip');
  await writeModuleZip(out, 'example.com/m', 'v1.0.0', [
    { path: 'go.mod', localPath: goMod, size: 0 },
    { path: 'big.bin', localPath: big, size: 0 },
    { path: 'é.go', localPath: code, size: 0 },
    ...Array.from({ length: 1500 }, (_, i) => ({
      path: `pkg${i % 10}/file-with-a-longer-name-${i}.go`,
      localPath: code,
      size: 0,
    })),
  ]);
  const valid = await fs.readFile(out);
  assert.ok(valid.length > 4 * 1024 * 1024);
  const { end, central, count } = layout(valid);
  assert.ok(valid.length - central > 22 + 0xffff + 20, 'the directory reaches past the tail');
  const check = async (bytes: Buffer): Promise<unknown> => {
    const file = await write('upload.zip', bytes);
    return checkModuleZip(file, bytes.length, 'example.com/m', 'v1.0.0', 1 << 30).catch(
      (err: unknown) => (err instanceof Error ? err.message : String(err)),
    );
  };

  const accepted = (await check(valid)) as { files: number; packageDirs: string[] };
  assert.equal(accepted.files, count);
  assert.equal(accepted.packageDirs.length, 11);

  // A name in UTF-8 without the UTF-8 flag (bit 11): `go` reads names as UTF-8 whatever the flag
  // says and accepts é.go; read as CP437 it was "├⌐.go", refused as an invalid file name.
  const unflagged = Buffer.from(valid);
  const name = Buffer.from('example.com/m@v1.0.0/é.go');
  const local = unflagged.indexOf(name) - 30;
  const record = unflagged.indexOf(name, central) - 46;
  assert.equal(unflagged.readUInt16LE(local + 6) & 0x800, 0x800);
  unflagged.writeUInt16LE(unflagged.readUInt16LE(local + 6) & ~0x800, local + 6);
  unflagged.writeUInt16LE(unflagged.readUInt16LE(record + 8) & ~0x800, record + 8);
  assert.deepEqual(await check(unflagged), accepted);

  // An end record counting fewer entries than the directory holds: archive/zip refuses it (yauzl
  // read the counted ones only and accepted the zip).
  const low = Buffer.from(valid);
  low.writeUInt16LE(count - 1, end + 8);
  low.writeUInt16LE(count - 1, end + 10);
  assert.match(
    String(await check(low)),
    /the end record counts \d+ entries, the central directory holds more/,
  );

  // A central directory offset pointing back into the entries' data: refused.
  const far = Buffer.from(valid);
  far.writeUInt32LE(100, end + 16);
  assert.match(
    String(await check(far)),
    /invalid module zip: (invalid central directory|the central directory .* does not end where)/,
  );
});

/**
 * A module zip holding two central directories over the same two stored entries (code review,
 * thirtieth session): `judged` names the entries as the module's, `read` names another. Laid
 * out as [entries][judged][4 zero bytes][read] then, with `zip64`, a zip64 end record naming
 * `judged` and its locator, then an end record whose (unsaturated) fields name `read`; without,
 * the end record's offset names `judged` and its size is `read`'s, so Go, which reads the
 * directory at (end record − size), reads `read`.
 */
function twoDirectories(zip64: boolean): Buffer {
  const prefix = 'example.com/m@v1.0.0/';
  const files: [string, Buffer][] = [
    [`${prefix}go.mod`, Buffer.from('module example.com/m\n')],
    [`${prefix}a.go`, Buffer.from('package m\n')],
  ];
  const parts: Buffer[] = [];
  const offsets: number[] = [];
  let length = 0;
  const push = (b: Buffer): void => {
    parts.push(b);
    length += b.length;
  };
  for (const [name, data] of files) {
    offsets.push(length);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt32LE(crc32(data), 14);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(Buffer.byteLength(name), 26);
    push(Buffer.concat([local, Buffer.from(name), data]));
  }
  const directory = (names: string[]): Buffer =>
    Buffer.concat(
      files.map(([, data], i) => {
        const name = Buffer.from(names[i] as string);
        const record = Buffer.alloc(46);
        record.writeUInt32LE(0x02014b50, 0);
        record.writeUInt16LE(0x031e, 4);
        record.writeUInt16LE(20, 6);
        record.writeUInt32LE(crc32(data), 16);
        record.writeUInt32LE(data.length, 20);
        record.writeUInt32LE(data.length, 24);
        record.writeUInt16LE(name.length, 28);
        record.writeUInt32LE((0o100644 << 16) >>> 0, 38);
        record.writeUInt32LE(offsets[i] as number, 42);
        return Buffer.concat([record, name]);
      }),
    );
  const judgedAt = length;
  const judged = directory(files.map(([name]) => name));
  push(judged);
  push(Buffer.alloc(4));
  const readAt = length;
  const read = directory([`${prefix}go.mod`, '../../../../tmp/evil.go']);
  push(read);
  if (zip64) {
    const record = Buffer.alloc(56);
    record.writeUInt32LE(0x06064b50, 0);
    record.writeBigUInt64LE(44n, 4);
    record.writeUInt16LE(45, 12);
    record.writeUInt16LE(45, 14);
    record.writeBigUInt64LE(2n, 24);
    record.writeBigUInt64LE(2n, 32);
    record.writeBigUInt64LE(BigInt(judged.length), 40);
    record.writeBigUInt64LE(BigInt(judgedAt), 48);
    const locator = Buffer.alloc(20);
    locator.writeUInt32LE(0x07064b50, 0);
    locator.writeBigUInt64LE(BigInt(length), 8);
    locator.writeUInt32LE(1, 16);
    push(record);
    push(locator);
  }
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(2, 8);
  end.writeUInt16LE(2, 10);
  end.writeUInt32LE(read.length, 12);
  end.writeUInt32LE(zip64 ? readAt : judgedAt, 16);
  push(end);
  return Buffer.concat(parts);
}

test('a zip whose central directory NORA and go would find in different places is refused: upload in memory, through yauzl, proxy check', async () => {
  await using dir = await tempDir('nora-go-zip-two-dirs-');
  for (const zip64 of [true, false]) {
    const bytes = twoDirectories(zip64);
    const file = path.join(dir.path, `two-${zip64}.zip`);
    await fs.writeFile(file, bytes);
    const reason = zip64 ? /zip readers disagree/ : /does not end where the end record starts/;
    for (const inMemory of [4 * 1024 * 1024, 0]) {
      setInMemoryUploadBytesForTests(inMemory);
      try {
        await assert.rejects(
          checkModuleZip(file, bytes.length, 'example.com/m', 'v1.0.0', 1 << 20),
          (err: unknown) =>
            err instanceof Error &&
            'status' in err &&
            err.status === 400 &&
            reason.test(err.message),
          `zip64 ${zip64}, in memory up to ${inMemory} bytes`,
        );
      } finally {
        setInMemoryUploadBytesForTests(4 * 1024 * 1024);
      }
    }
    assert.match((await zipIntegrityProblem(bytes)) ?? '', reason, `proxy check, zip64 ${zip64}`);
    assert.match((await zipIntegrityProblem(file)) ?? '', reason, `proxy check of a file`);
  }
});
