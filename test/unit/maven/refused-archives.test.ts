/**
 * RefusedArchives (src/formats/maven/refused-archives.ts): per build, in the database
 * (`maven_refused_archives`), bounded in time, cleared per build or per DELETE'd
 * version/artifact; a second instance over the same database (a restart, another node) sees
 * what the first remembered.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Kysely } from 'kysely';
import { coreMigrations } from '../../../src/db/core-migrations.ts';
import { openDatabase } from '../../../src/db/database.ts';
import { fileCoordinate } from '../../../src/formats/maven/coordinates.ts';
import { type MavenTables, mavenMigrations } from '../../../src/formats/maven/migrations.ts';
import { refusalKey, RefusedArchives } from '../../../src/formats/maven/refused-archives.ts';

/** A fresh in-memory database with the Maven tables (closed by the test). */
const database = async (): Promise<Kysely<MavenTables>> =>
  (
    await openDatabase({ file: ':memory:', migrations: { ...coreMigrations, ...mavenMigrations } })
  ).$extendTables<MavenTables>();

const at = (path: string) => {
  const coordinate = fileCoordinate(path.split('/'), path);
  assert.ok(coordinate, path);
  return coordinate;
};

test('a build is its version, and for a timestamped snapshot its build stamp', () => {
  assert.equal(refusalKey('r', at('com/acme/a/1.0/a-1.0.jar')), 'r\ncom.acme\na\n1.0\n');
  assert.equal(
    refusalKey('r', at('com/acme/a/1.0/a-1.0.pom')),
    refusalKey('r', at('com/acme/a/1.0/a-1.0.jar')),
  );
  const snap = refusalKey('r', at('com/acme/a/1.0-SNAPSHOT/a-1.0-20261204.101010-3.jar'));
  assert.equal(snap, 'r\ncom.acme\na\n1.0-SNAPSHOT\n20261204.101010-3');
  assert.notEqual(snap, refusalKey('r', at('com/acme/a/1.0-SNAPSHOT/a-1.0-20261204.101010-4.pom')));
  assert.notEqual(
    refusalKey('r', at('com/acme/a/1.0/a-1.0.jar')),
    refusalKey('s', at('com/acme/a/1.0/a-1.0.jar')),
  );
});

test('remembered until the TTL, then forgotten (and removed)', async () => {
  const db = await database();
  let now = 1_000;
  const refused = new RefusedArchives(db, { now: () => now, ttlMs: 60_000 });
  await refused.remember('r', at('com/acme/a/1.0/a-1.0.jar'), 'no zip end record');
  const found = await refused.find('r', at('com/acme/a/1.0/a-1.0.pom'));
  assert.deepEqual(found, {
    path: 'com/acme/a/1.0/a-1.0.jar',
    extension: 'jar',
    reason: 'no zip end record',
    at: 1_000,
  });
  assert.equal(await refused.find('r', at('com/acme/a/1.1/a-1.1.pom')), undefined);
  now += 60_000;
  assert.ok(await refused.find('r', at('com/acme/a/1.0/a-1.0.pom')));
  now += 1;
  assert.equal(await refused.find('r', at('com/acme/a/1.0/a-1.0.pom')), undefined);
  assert.equal(await refused.size(), 0, 'an expired entry is removed when looked up');
  await db.destroy();
});

test('expired refusals are removed when one is remembered; a refusal again refreshes it', async () => {
  const db = await database();
  let now = 1_000;
  const refused = new RefusedArchives(db, { now: () => now, ttlMs: 60_000 });
  for (const v of ['1', '2']) await refused.remember('r', at(`g/a/${v}/a-${v}.jar`), 'empty');
  now += 30_000;
  await refused.remember('r', at('g/a/1/a-1.jar'), 'a web page');
  now += 30_001;
  await refused.remember('r', at('g/a/3/a-3.jar'), 'empty');
  assert.equal(await refused.size(), 2, 'the refusal of 2 expired and was removed');
  assert.equal((await refused.find('r', at('g/a/1/a-1.pom')))?.reason, 'a web page');
  assert.equal(await refused.find('r', at('g/a/2/a-2.pom')), undefined);
  await db.destroy();
});

test('a second instance over the same database (a restart, another node) sees it', async () => {
  const db = await database();
  await new RefusedArchives(db).remember('r', at('g/a/1.0/a-1.0.jar'), 'not a zip');
  const after = new RefusedArchives(db);
  assert.equal((await after.find('r', at('g/a/1.0/a-1.0.pom')))?.path, 'g/a/1.0/a-1.0.jar');
  await db.destroy();
});

test('clear forgets one build; clearUnder a version or an artifact', async () => {
  const db = await database();
  const refused = new RefusedArchives(db);
  for (const path of [
    'g/a/1.0/a-1.0.jar',
    'g/a/1.1/a-1.1.jar',
    'g/a/1.1-SNAPSHOT/a-1.1-20261204.101010-1.jar',
    'g/ab/1.0/ab-1.0.jar',
  ]) {
    await refused.remember('r', at(path), 'empty');
  }
  await refused.clear('r', at('g/a/1.0/a-1.0.jar'));
  assert.equal(await refused.find('r', at('g/a/1.0/a-1.0.pom')), undefined);
  await refused.clearUnder('r', 'g', 'a', '1.1-SNAPSHOT');
  assert.equal(
    await refused.find('r', at('g/a/1.1-SNAPSHOT/a-1.1-20261204.101010-1.pom')),
    undefined,
  );
  assert.ok(await refused.find('r', at('g/a/1.1/a-1.1.pom')));
  await refused.clearUnder('r', 'g', 'a');
  assert.equal(await refused.find('r', at('g/a/1.1/a-1.1.pom')), undefined);
  assert.ok(await refused.find('r', at('g/ab/1.0/ab-1.0.pom')), 'artifact ab is not under a');
  await db.destroy();
});
