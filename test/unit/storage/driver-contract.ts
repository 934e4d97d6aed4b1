/**
 * The storage driver contract: one suite every driver runs (fs, memory, and s3 later), in the
 * spirit of Distribution's driver testsuites. A driver is correct when this passes.
 */
import assert from 'node:assert/strict';
import { createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, test } from 'node:test';
import { text } from 'node:stream/consumers';
import type { StorageDriver, StorageKey } from '../../../src/storage/driver.ts';
import { StorageNotFoundError } from '../../../src/storage/driver.ts';
import { GuardedDriver } from '../../../src/storage/guarded-driver.ts';

const key = (k: string) => k as StorageKey;

export function runDriverContract(name: string, create: () => Promise<StorageDriver>): void {
  describe(`storage driver contract: ${name}`, () => {
    const withDriver = async (fn: (d: StorageDriver) => Promise<void>) => {
      const driver = new GuardedDriver(await create());
      try {
        await fn(driver);
      } finally {
        await driver.close();
      }
    };

    test('stat of a missing key is undefined, read throws not-found', () =>
      withDriver(async (d) => {
        assert.equal(await d.stat(key('a/missing')), undefined);
        await assert.rejects(d.read(key('a/missing')), StorageNotFoundError);
      }));

    test('setAside moves an object to a local spool file; writeFile puts it back', () =>
      withDriver(async (d) => {
        assert.equal(await d.setAside(key('aside/missing')), undefined);
        await d.write(key('aside/one'), Buffer.from('held bytes'));
        const held = await d.setAside(key('aside/one'));
        assert.ok(held !== undefined && held.startsWith(d.spoolDir()), String(held));
        assert.equal(await d.stat(key('aside/one')), undefined);
        assert.equal(await fs.readFile(held, 'utf8'), 'held bytes');
        await d.writeFile(key('aside/one'), held);
        assert.equal(await text(await d.read(key('aside/one'))), 'held bytes');
      }));

    test('write a buffer, stat, read back', () =>
      withDriver(async (d) => {
        const info = await d.write(key('dir/one'), Buffer.from('hello world'));
        assert.equal(info.size, 11);
        assert.equal((await d.stat(key('dir/one')))?.size, 11);
        assert.equal(await text(await d.read(key('dir/one'))), 'hello world');
      }));

    test('write buffers in order: one object, however many (past one writev) and however split', () =>
      withDriver(async (d) => {
        const chunks = Array.from({ length: 1500 }, (_, i) => Buffer.alloc(i % 7, i));
        const info = await d.write(key('parts'), [...chunks, Buffer.from('end')]);
        const whole = Buffer.concat([...chunks, Buffer.from('end')]);
        assert.equal(info.size, whole.length);
        assert.deepEqual(Buffer.concat(await (await d.read(key('parts'))).toArray()), whole);
        await d.write(key('none'), []);
        assert.equal((await d.stat(key('none')))?.size, 0);
      }));

    test('write a stream of many chunks', () =>
      withDriver(async (d) => {
        const chunks = Array.from({ length: 100 }, (_, i) => Buffer.alloc(1000, i));
        await d.write(key('big'), Readable.from(chunks));
        const back = Buffer.concat(await (await d.read(key('big'))).toArray());
        assert.deepEqual(back, Buffer.concat(chunks));
      }));

    test('write a buffer in pieces (more than IOV_MAX, empty ones among them)', () =>
      withDriver(async (d) => {
        const pieces = Array.from({ length: 1500 }, (_, i) =>
          i % 7 === 0 ? Buffer.alloc(0) : Buffer.alloc(1 + (i % 50), i),
        );
        const info = await d.write(key('pieces/one'), pieces);
        const whole = Buffer.concat(pieces);
        assert.equal(info.size, whole.length);
        assert.equal((await d.stat(key('pieces/one')))?.size, whole.length);
        assert.deepEqual(Buffer.concat(await (await d.read(key('pieces/one'))).toArray()), whole);
        await d.write(key('pieces/empty'), []);
        assert.equal((await d.stat(key('pieces/empty')))?.size, 0);
      }));

    test('ranged reads are inclusive and clamp nothing', () =>
      withDriver(async (d) => {
        await d.write(key('r'), Buffer.from('0123456789'));
        assert.equal(await text(await d.read(key('r'), { start: 2, end: 5 })), '2345');
        assert.equal(await text(await d.read(key('r'), { start: 7 })), '789');
        assert.equal(await text(await d.read(key('r'), { start: 0, end: 0 })), '0');
      }));

    test('overwrite replaces the whole object', () =>
      withDriver(async (d) => {
        await d.write(key('o'), Buffer.from('a much longer first value'));
        await d.write(key('o'), Buffer.from('short'));
        assert.equal(await text(await d.read(key('o'))), 'short');
      }));

    test('writeFile consumes a spool file atomically', () =>
      withDriver(async (d) => {
        const spool = path.join(d.spoolDir(), `contract-${Date.now()}`);
        await fs.mkdir(d.spoolDir(), { recursive: true });
        await pipeline(Readable.from([Buffer.from('spooled')]), createWriteStream(spool));
        await d.writeFile(key('from/spool'), spool);
        assert.equal(await text(await d.read(key('from/spool'))), 'spooled');
        await assert.rejects(fs.access(spool));
      }));

    test('a failing source stream leaves nothing visible', () =>
      withDriver(async (d) => {
        const failing = new Readable({
          read() {
            this.push(Buffer.alloc(1024));
            this.destroy(new Error('boom'));
          },
        });
        await assert.rejects(d.write(key('broken'), failing));
        assert.equal(await d.stat(key('broken')), undefined);
      }));

    test('delete is idempotent', () =>
      withDriver(async (d) => {
        await d.write(key('del/x'), Buffer.from('x'));
        assert.equal(await d.delete(key('del/x')), true);
        assert.equal(await d.delete(key('del/x')), false);
        assert.equal(await d.stat(key('del/x')), undefined);
      }));

    test('list is recursive, sorted and prefix-bounded', () =>
      withDriver(async (d) => {
        for (const k of ['p/b/2', 'p/a', 'p/b/1', 'q/z', 'pp/no'])
          await d.write(key(k), Buffer.from(k));
        const listed: string[] = [];
        for await (const info of d.list(key('p'))) listed.push(info.key);
        assert.deepEqual(listed, ['p/a', 'p/b/1', 'p/b/2']);
        const none: string[] = [];
        for await (const info of d.list(key('nothing/here'))) none.push(info.key);
        assert.deepEqual(none, []);
      }));

    test('invalid keys are rejected before the driver sees them', () =>
      withDriver(async (d) => {
        for (const bad of [
          '',
          '/abs',
          'a/../b',
          '..',
          'a/./b',
          'a//b',
          'a\0b',
          'a\\b',
          'x/',
          'a'.repeat(1025),
        ]) {
          await assert.rejects(
            d.write(key(bad), Buffer.from('x')),
            /invalid storage key/,
            JSON.stringify(bad),
          );
          await assert.rejects(d.stat(key(bad)), /invalid storage key/);
        }
      }));

    test('copy duplicates an object; the copy is independent of later writes', () =>
      withDriver(async (d) => {
        await d.write(key('c/src'), Buffer.from('original'));
        await d.copy?.(key('c/src'), key('c/dst'));
        await d.write(key('c/src'), Buffer.from('changed'));
        assert.equal(await text(await d.read(key('c/dst'))), 'original');
        await assert.rejects(
          d.copy?.(key('c/missing'), key('c/x')) ?? Promise.reject(new Error('no copy')),
        );
      }));

    test('signedUrl is optional: undefined when the backend has none', () =>
      withDriver(async (d) => {
        await d.write(key('s/x'), Buffer.from('x'));
        const url = await d.signedUrl?.(key('s/x'), 60);
        assert.ok(url === undefined || /^https?:\/\//.test(url));
      }));

    test('check passes on a healthy backend', () => withDriver((d) => d.check()));
  });
}
