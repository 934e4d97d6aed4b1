/**
 * The zip end-record check of Maven archives (src/formats/maven/zip-end.ts): a whole archive is
 * taken in every form a real one has (deflated, stored, empty, commented, padded, behind a launch
 * script, zip64), and every cut copy is refused — the one the first check let through included
 * (trial 20 fmts F1): a fat jar that stores other jars, cut within 64 KiB after one of them ends,
 * whose nested end record Java would then read as the whole file's.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import {
  hasWholeZipEnd,
  ZIP_END_WINDOW,
  ZIP_PREFIX_SCAN,
  ZipEntryScanner,
} from '../../../src/formats/maven/zip-end.ts';
import { makeZip } from '../../integration/pypi/fixtures.ts';

const MANIFEST = {
  name: 'META-INF/MANIFEST.MF',
  data: Buffer.from('Manifest-Version: 1.0\r\n\r\n'),
};
const SCRIPT = Buffer.from('#!/bin/bash\nexec java -jar "$0" "$@"\n');

/** The check as both callers run it: the first ZIP_PREFIX_SCAN bytes, the last window of the file. */
function whole(file: Buffer): boolean {
  return hasWholeZipEnd({
    head: file.subarray(0, ZIP_PREFIX_SCAN),
    tail: file.subarray(Math.max(0, file.length - ZIP_END_WINDOW)),
    size: file.length,
  });
}

/** `zip` with a comment on its end record. */
function withComment(zip: Buffer, comment: string): Buffer {
  const out = Buffer.concat([zip, Buffer.from(comment)]);
  out.writeUInt16LE(comment.length, zip.length - 2);
  return out;
}

/** `zip` rewritten with zip64 end records (as `zip -fz` writes them): its end record's fields saturated. */
function asZip64(zip: Buffer): Buffer {
  const end = zip.subarray(zip.length - 22);
  const entries = end.readUInt16LE(10);
  const directorySize = end.readUInt32LE(12);
  const directoryOffset = end.readUInt32LE(16);
  const record = Buffer.alloc(56);
  record.writeUInt32LE(0x06064b50, 0);
  record.writeBigUInt64LE(44n, 4);
  record.writeUInt16LE(45, 12);
  record.writeUInt16LE(45, 14);
  record.writeBigUInt64LE(BigInt(entries), 24);
  record.writeBigUInt64LE(BigInt(entries), 32);
  record.writeBigUInt64LE(BigInt(directorySize), 40);
  record.writeBigUInt64LE(BigInt(directoryOffset), 48);
  const locator = Buffer.alloc(20);
  locator.writeUInt32LE(0x07064b50, 0);
  locator.writeBigUInt64LE(BigInt(directoryOffset + directorySize), 8);
  locator.writeUInt32LE(1, 16);
  const end64 = Buffer.from(end);
  end64.writeUInt16LE(0xffff, 8);
  end64.writeUInt16LE(0xffff, 10);
  end64.writeUInt32LE(0xffffffff, 12);
  end64.writeUInt32LE(0xffffffff, 16);
  return Buffer.concat([zip.subarray(0, zip.length - 22), record, locator, end64]);
}

describe('maven zip end record', () => {
  const small = makeZip([MANIFEST, { name: 'org/acme/A.class', data: randomBytes(2_000) }]);
  const large = makeZip([
    MANIFEST,
    { name: 'org/acme/big.bin', data: randomBytes(200_000), store: true },
  ]);

  test('a whole archive is taken in every form a real one has', () => {
    const forms: Record<string, Buffer> = {
      deflated: small,
      stored: large,
      empty: makeZip([]),
      commented: withComment(small, 'built by hand'),
      'padded after the end record (Java reads it)': Buffer.concat([small, Buffer.alloc(100)]),
      'behind a launch script': Buffer.concat([SCRIPT, large]),
      'behind a launch script, with a comment': Buffer.concat([SCRIPT, withComment(small, 'x')]),
      zip64: asZip64(small),
      'zip64, large': asZip64(large),
    };
    for (const [form, file] of Object.entries(forms)) assert.equal(whole(file), true, form);
  });

  test('every cut copy of an archive is refused', () => {
    for (let size = 0; size < small.length; size += 1)
      assert.equal(whole(small.subarray(0, size)), false, `cut at ${size} of ${small.length}`);
    for (const file of [large, asZip64(small), withComment(small, 'a comment')]) {
      for (const cut of [1, 2, 21, 22, 23, 60, 1000, 70_000].filter((n) => n < file.length))
        assert.equal(whole(file.subarray(0, file.length - cut)), false, `${cut} bytes short`);
    }
  });

  test('a fat jar cut after a jar it stores is refused, though that jar ends with its own record', () => {
    const inner = makeZip([MANIFEST, { name: 'lib/Inner.class', data: randomBytes(3_000) }]);
    const fat = makeZip([
      MANIFEST,
      { name: 'BOOT-INF/lib/inner.jar', data: inner, store: true },
      { name: 'BOOT-INF/lib/after.bin', data: randomBytes(30_000), store: true },
    ]);
    const innerEnd = fat.indexOf(inner) + inner.length;
    assert.ok(innerEnd > inner.length);
    for (const extra of [0, 1, 1_000, 29_000]) {
      const cut = fat.subarray(0, innerEnd + extra);
      assert.equal(whole(cut), false, `cut ${extra} bytes after the nested jar`);
    }
    // Behind a launch script: cut after the nested record, its comment does not end the file;
    // cut exactly at it, the prefix holds the fat jar's first entry, which a script does not.
    for (const extra of [0, 1, 1_000, 29_000]) {
      const cut = Buffer.concat([SCRIPT, fat.subarray(0, innerEnd + extra)]);
      assert.equal(whole(cut), false, `behind a script, cut ${extra} bytes after the nested jar`);
    }
    assert.equal(whole(fat), true);
    assert.equal(whole(Buffer.concat([SCRIPT, fat])), true, 'the whole fat jar behind a script');
    // A launch script as long as Spring Boot's (about 10 KiB) still shows the entry after it.
    const longScript = Buffer.concat([SCRIPT, Buffer.alloc(10_000, '#')]);
    const cut = Buffer.concat([longScript, fat.subarray(0, innerEnd)]);
    assert.equal(whole(cut), false, 'behind a 10 KB script, cut at the nested record');
    assert.equal(whole(Buffer.concat([longScript, fat])), true, 'whole behind a 10 KB script');
  });

  test('text or junk followed by an end record is no archive (trial 21 fmts F1)', () => {
    const emptyRecord = makeZip([]);
    for (const junk of ['not a zip at all', '<html>x</html>', 'this is junk '.repeat(10)]) {
      assert.equal(whole(Buffer.concat([Buffer.from(junk), emptyRecord])), false, junk);
      assert.equal(whole(Buffer.concat([SCRIPT, emptyRecord])), false, 'a script, no entries');
    }
    // A prefix, then a record whose directory is real but whose archive does not start with an
    // entry where it says (the bytes there are not a local header).
    const shifted = Buffer.concat([Buffer.from('junk'), small]);
    shifted.write('XX', 4);
    assert.equal(whole(shifted), false, 'no local header where the archive starts');
    assert.equal(whole(emptyRecord), true, 'an empty archive alone is one');
  });

  test("a damaged first local header is refused; a launch script with offsets from the file's start is taken", () => {
    const xx = Buffer.from(small);
    xx.write('XX', 0, 'latin1');
    assert.equal(whole(xx), false, 'XX in place of the first PK');
    // `zip -A` style: offsets adjusted to count the script, so the archive "starts" at 0.
    const adjusted = Buffer.concat([SCRIPT, small]);
    const end = adjusted.length - 22;
    const directoryAt = SCRIPT.length + adjusted.readUInt32LE(end + 16);
    for (let at = directoryAt, i = 0; i < adjusted.readUInt16LE(end + 10); i += 1) {
      adjusted.writeUInt32LE(adjusted.readUInt32LE(at + 42) + SCRIPT.length, at + 42);
      at +=
        46 +
        adjusted.readUInt16LE(at + 28) +
        adjusted.readUInt16LE(at + 30) +
        adjusted.readUInt16LE(at + 32);
    }
    adjusted.writeUInt32LE(directoryAt, end + 16);
    assert.equal(whole(adjusted), true, 'offsets adjusted to the script');
  });

  test('an end record whose central directory is not where it says is refused', () => {
    const pastTheEnd = Buffer.concat([
      Buffer.from('PK\x03\x04'),
      randomBytes(1_000),
      Buffer.alloc(22),
    ]);
    pastTheEnd.writeUInt32LE(0x06054b50, pastTheEnd.length - 22);
    pastTheEnd.writeUInt16LE(1, pastTheEnd.length - 12);
    pastTheEnd.writeUInt32LE(100, pastTheEnd.length - 10);
    pastTheEnd.writeUInt32LE(5_000, pastTheEnd.length - 6);
    assert.equal(whole(pastTheEnd), false, 'directory past the end');
    const moved = Buffer.from(small);
    moved.writeUInt32LE(moved.readUInt32LE(moved.length - 6) - 1, moved.length - 6);
    assert.equal(whole(moved), false, 'directory offset one byte short');
    const notCentral = Buffer.from(small);
    const directoryAt = notCentral.readUInt32LE(notCentral.length - 6);
    notCentral.writeUInt32LE(0x04034b50, directoryAt);
    assert.equal(whole(notCentral), false, 'no central header where the directory starts');
  });

  test('a tail shorter than the window asked for is refused, not misread', () => {
    assert.equal(
      hasWholeZipEnd({
        head: large.subarray(0, 64),
        tail: large.subarray(-100),
        size: large.length,
      }),
      false,
    );
  });
});

describe('a launch script longer than ZIP_PREFIX_SCAN: the prefix searched further (ZipEntryScanner)', () => {
  const inner = makeZip([MANIFEST, { name: 'lib/Inner.class', data: randomBytes(3_000) }]);
  const fat = makeZip([
    MANIFEST,
    { name: 'BOOT-INF/lib/inner.jar', data: inner, store: true },
    { name: 'BOOT-INF/lib/after.bin', data: randomBytes(30_000), store: true },
  ]);
  const script = Buffer.concat([SCRIPT, Buffer.alloc(100_000, '#')]);

  /** The scan a caller makes after the head, in chunks of `step` bytes. */
  const scanned = (file: Buffer, step: number) => {
    const from = ZIP_PREFIX_SCAN - 3;
    const scanner = new ZipEntryScanner(from);
    for (let at = from; at < file.length; at += step) {
      if (scanner.push(file.subarray(at, at + step))) break;
    }
    return {
      at: scanner.found,
      scanned: scanner.found >= 0 ? scanner.scanned : file.length,
    };
  };
  const wholeScanned = (file: Buffer, step: number) =>
    hasWholeZipEnd({
      head: file.subarray(0, ZIP_PREFIX_SCAN),
      tail: file.subarray(Math.max(0, file.length - ZIP_END_WINDOW)),
      size: file.length,
      firstEntry: scanned(file, step),
    });

  test('the scanner finds the first entry wherever the chunks split it', () => {
    const file = Buffer.concat([script, fat]);
    for (const step of [1, 2, 3, 5, 4096, 65_536, 1 << 20]) {
      assert.equal(scanned(file, step).at, script.length, `chunks of ${step}`);
    }
    assert.equal(new ZipEntryScanner().push(Buffer.from('no entry here')), false);
  });

  test('a cut at a nested record is refused, the whole executable jar taken', () => {
    const cut = Buffer.concat([script, fat.subarray(0, fat.indexOf(inner) + inner.length)]);
    // The first 64 KiB alone cannot tell (the limit the scan lifts).
    assert.equal(whole(cut), true, 'head only: the cut passes');
    for (const step of [7, 65_536]) {
      assert.equal(wholeScanned(cut, step), false, `scanned in chunks of ${step}`);
      assert.equal(wholeScanned(Buffer.concat([script, fat]), step), true);
    }
    // Text then an archive whose first entry is not where its record says: refused too.
    const shifted = Buffer.concat([script, fat]);
    shifted.write('XX', script.length);
    assert.equal(wholeScanned(shifted, 65_536), false);
  });
});
