/**
 * RefusedArchives (src/formats/maven/refused-archives.ts): per build, bounded in count and time,
 * cleared per build or per DELETE'd version/artifact.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fileCoordinate } from '../../../src/formats/maven/coordinates.ts';
import { refusalKey, RefusedArchives } from '../../../src/formats/maven/refused-archives.ts';

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

test('remembered until the TTL, then forgotten', () => {
  let now = 1_000;
  const refused = new RefusedArchives({ now: () => now, ttlMs: 60_000 });
  refused.remember('r', at('com/acme/a/1.0/a-1.0.jar'), 'no zip end record');
  const found = refused.find('r', at('com/acme/a/1.0/a-1.0.pom'));
  assert.deepEqual(found, {
    path: 'com/acme/a/1.0/a-1.0.jar',
    extension: 'jar',
    reason: 'no zip end record',
    at: 1_000,
  });
  assert.equal(refused.find('r', at('com/acme/a/1.1/a-1.1.pom')), undefined);
  now += 60_000;
  assert.ok(refused.find('r', at('com/acme/a/1.0/a-1.0.pom')));
  now += 1;
  assert.equal(refused.find('r', at('com/acme/a/1.0/a-1.0.pom')), undefined);
  assert.equal(refused.size, 0, 'an expired entry is dropped when looked up');
});

test('bounded: the oldest is forgotten first; a refusal again refreshes it', () => {
  const refused = new RefusedArchives({ max: 3 });
  for (const v of ['1', '2', '3']) refused.remember('r', at(`g/a/${v}/a-${v}.jar`), 'empty');
  refused.remember('r', at('g/a/1/a-1.jar'), 'empty');
  refused.remember('r', at('g/a/4/a-4.jar'), 'empty');
  assert.equal(refused.size, 3);
  assert.equal(refused.find('r', at('g/a/2/a-2.pom')), undefined, 'the oldest went');
  for (const v of ['1', '3', '4']) assert.ok(refused.find('r', at(`g/a/${v}/a-${v}.pom`)), v);
});

test('clear forgets one build; clearUnder a version or an artifact', () => {
  const refused = new RefusedArchives();
  for (const path of [
    'g/a/1.0/a-1.0.jar',
    'g/a/1.1/a-1.1.jar',
    'g/a/1.1-SNAPSHOT/a-1.1-20261204.101010-1.jar',
    'g/ab/1.0/ab-1.0.jar',
  ]) {
    refused.remember('r', at(path), 'empty');
  }
  refused.clear('r', at('g/a/1.0/a-1.0.jar'));
  assert.equal(refused.find('r', at('g/a/1.0/a-1.0.pom')), undefined);
  refused.clearUnder('r', 'g', 'a', '1.1-SNAPSHOT');
  assert.equal(refused.find('r', at('g/a/1.1-SNAPSHOT/a-1.1-20261204.101010-1.pom')), undefined);
  assert.ok(refused.find('r', at('g/a/1.1/a-1.1.pom')));
  refused.clearUnder('r', 'g', 'a');
  assert.equal(refused.find('r', at('g/a/1.1/a-1.1.pom')), undefined);
  assert.ok(refused.find('r', at('g/ab/1.0/ab-1.0.pom')), 'artifact ab is not under a');
});
