/**
 * The hot-file cache of Maven artifact GETs (src/formats/maven/hot-files.ts): an answer is kept
 * per (repository, path) until a write to the repository (or a group member) bumps its
 * generation, or until the validity its source gave; a failed open drops it; a small file asked
 * for twice is then served from memory.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { readAllBounded } from '../../../src/core/streams.ts';
import { HotFiles, NOT_KEPT } from '../../../src/formats/maven/hot-files.ts';
import type { MetadataValidity, OpenedMavenFile } from '../../../src/formats/maven/model.ts';
import { toRepository } from '../../../src/repos/repository.ts';

const hosted = toRepository(
  { name: 'h', format: 'maven', kind: 'hosted', members: [], upstreams: [] },
  false,
);
const group = toRepository(
  { name: 'g', format: 'maven', kind: 'group', members: ['h', 'p'], upstreams: [] },
  false,
);

function fileOf(text: string, opens: { count: number }, fail = false): OpenedMavenFile {
  const body = Buffer.from(text);
  return {
    size: body.length,
    // The real sha256: a body is hashed against it before it is kept in memory.
    checksums: {
      md5: 'm',
      sha1: `sha1-${text}`,
      sha256: createHash('sha256').update(body).digest('hex'),
      sha512: 'x',
    },
    modifiedAt: 1_700_000_000_123,
    open: () => {
      opens.count++;
      return fail ? Promise.reject(new Error('ENOENT')) : Promise.resolve(Readable.from([body]));
    },
  };
}

async function text(body: Readable | Buffer): Promise<string> {
  return (Buffer.isBuffer(body) ? body : await readAllBounded(body, 1 << 20, 't')).toString();
}

test('an answer is kept until a write to the repository or to a group member', async () => {
  const hot = new HotFiles();
  const opens = { count: 0 };
  let lookups = 0;
  let current = 'v1';
  const lookup = () => {
    lookups++;
    return Promise.resolve(fileOf(current, opens));
  };
  const first = await hot.get(hosted, 'a/b/1/b-1.pom', lookup);
  assert.equal(first?.etag, '"sha1-v1"');
  assert.equal(first.lastModified, new Date(1_700_000_000_123).toUTCString());
  assert.equal(first.modifiedSeconds, 1_700_000_000_000);
  await hot.get(hosted, 'a/b/1/b-1.pom', lookup);
  await hot.get(group, 'a/b/1/b-1.pom', lookup);
  await hot.get(group, 'a/b/1/b-1.pom', lookup);
  assert.equal(lookups, 2, 'one lookup per repository');
  current = 'v2';
  hot.changed('h');
  assert.equal((await hot.get(hosted, 'a/b/1/b-1.pom', lookup))?.etag, '"sha1-v2"');
  assert.equal((await hot.get(group, 'a/b/1/b-1.pom', lookup))?.etag, '"sha1-v2"');
  assert.equal(lookups, 4, 'a member write reaches the group');
  hot.changed('other');
  await hot.get(group, 'a/b/1/b-1.pom', lookup);
  assert.equal(lookups, 4, 'a write elsewhere does not');
  hot.reset();
  await hot.get(group, 'a/b/1/b-1.pom', lookup);
  assert.equal(lookups, 5, 'a config reload forgets everything');
});

test('absence is kept like an answer; a lookup started before a write is not kept past it', async () => {
  const hot = new HotFiles();
  let lookups = 0;
  const absent = () => {
    lookups++;
    return Promise.resolve(undefined);
  };
  assert.equal(await hot.get(hosted, 'x/y/1/y-1.jar', absent), undefined);
  assert.equal(await hot.get(hosted, 'x/y/1/y-1.jar', absent), undefined);
  assert.equal(lookups, 1);
  // A write lands while a lookup is in flight: that lookup's answer is already stale.
  const racing = hot.get(hosted, 'x/y/1/y-2.jar', async () => {
    hot.changed('h');
    return Promise.resolve(undefined);
  });
  await racing;
  await hot.get(hosted, 'x/y/1/y-2.jar', absent);
  assert.equal(lookups, 2, 'asked again after the write');
});

test('validity from the source bounds an answer; 0 keeps nothing', async () => {
  const hot = new HotFiles();
  let lookups = 0;
  const until = (ms: number) => (validity: MetadataValidity) => {
    lookups++;
    validity.until = ms;
    return Promise.resolve(undefined);
  };
  await hot.get(hosted, 'p/q/1/q-1.pom', until(0));
  await hot.get(hosted, 'p/q/1/q-1.pom', until(0));
  assert.equal(lookups, 2);
  await hot.get(hosted, 'p/q/1/q-2.pom', until(Date.now() + 60_000));
  await hot.get(hosted, 'p/q/1/q-2.pom', until(0));
  assert.equal(lookups, 3, 'kept while valid');
});

test('a failed open drops the answer; a small file asked for twice is then served from memory', async () => {
  const hot = new HotFiles();
  const opens = { count: 0 };
  let lookups = 0;
  const broken = () => {
    lookups++;
    return Promise.resolve(fileOf('gone', opens, true));
  };
  const file = await hot.get(hosted, 'g/o/1/o-1.jar', broken);
  await assert.rejects(file?.open() ?? Promise.resolve());
  await hot.get(hosted, 'g/o/1/o-1.jar', broken);
  assert.equal(lookups, 2, 'asked again after the failed open');

  const good = () => Promise.resolve(fileOf('<project/>', opens));
  assert.equal(hot.peek(hosted, 'g/o/1/o-1.pom'), NOT_KEPT);
  const pom = await hot.get(hosted, 'g/o/1/o-1.pom', good);
  assert.ok(pom);
  assert.equal(hot.peek(hosted, 'g/o/1/o-1.pom'), pom, 'peek: the kept answer');
  assert.equal(pom.keptBody(), undefined, 'no body kept before the second request');
  opens.count = 0;
  assert.equal(await text(await pom.open()), '<project/>');
  assert.equal(await text(await pom.open()), '<project/>');
  await new Promise((resolve) => setImmediate(resolve));
  await new Promise((resolve) => setTimeout(resolve, 10));
  assert.ok(hot.bodyBytes >= '<project/>'.length, 'body kept');
  const before = opens.count;
  const third = await pom.open();
  assert.ok(Buffer.isBuffer(third));
  assert.equal(third.toString(), '<project/>');
  assert.equal(opens.count, before, 'no open for a kept body');
  assert.equal(pom.keptBody()?.toString(), '<project/>');
  const ranged = await pom.open({ start: 1, end: 7 });
  assert.equal(await text(ranged), 'project');
  // A write replaces the answer, and its kept body goes with it.
  hot.changed('h');
  assert.equal(hot.peek(hosted, 'g/o/1/o-1.pom'), NOT_KEPT, 'a write ends the kept answer');
  await hot.get(hosted, 'g/o/1/o-1.pom', good);
  assert.equal(hot.bodyBytes, 0);
  assert.equal(pom.keptBody(), undefined, 'the old body went with its answer');
});

test('a body the source hands over (a fresh proxy fill) is kept at once: no open at all', async () => {
  const hot = new HotFiles();
  const opens = { count: 0 };
  const fresh = (): Promise<OpenedMavenFile> =>
    Promise.resolve({ ...fileOf('<fresh/>', opens), body: Buffer.from('<fresh/>') });
  const file = await hot.get(hosted, 'f/r/1/r-1.pom', fresh);
  assert.equal(file?.keptBody()?.toString(), '<fresh/>');
  assert.equal(await text(await file.open()), '<fresh/>');
  assert.equal(opens.count, 0);
  // An answer that is not kept (validity 0) keeps no body either.
  const once = await hot.get(hosted, 'f/r/1/r-2.pom', (validity) => {
    validity.until = 0;
    return fresh();
  });
  assert.equal(once?.keptBody(), undefined);
  // A body that does not match the recorded size is not taken.
  const odd = await hot.get(hosted, 'f/r/1/r-3.pom', () =>
    Promise.resolve({ ...fileOf('<odd/>', opens), body: Buffer.from('<other size/>') }),
  );
  assert.equal(odd?.keptBody(), undefined);
});

test('the second request of a small file reads it once and is answered from those bytes', async () => {
  const hot = new HotFiles();
  const opens = { count: 0 };
  const ranges: unknown[] = [];
  const lookup = (): Promise<OpenedMavenFile> => {
    const base = fileOf('<second/>', opens);
    return Promise.resolve({
      ...base,
      open: (range) => {
        ranges.push(range);
        return base.open(range);
      },
    });
  };
  const file = await hot.get(hosted, 's/e/1/e-1.pom', lookup);
  assert.ok(file);
  assert.ok(!Buffer.isBuffer(await file.open()), 'the first request streams');
  const [a, b] = await Promise.all([file.open(), file.open()]);
  assert.ok(Buffer.isBuffer(a) && Buffer.isBuffer(b), 'the second (and one meanwhile) from memory');
  assert.equal(a.toString(), '<second/>');
  assert.equal(opens.count, 2, 'one read for both');
  // A whole read (not a range), so the blob store verifies the bytes kept.
  assert.equal(ranges[1], undefined);
  assert.equal(file.keptBody()?.toString(), '<second/>');
});
