/**
 * Differential test against Maven itself: the machine's Maven (`maven-artifact-3.x.jar`, Debian's
 * 3.8.7) prints how it compares consecutive versions (`ComparableVersion`'s main). We sort a few
 * thousand versions — every version directory of the local Maven repository, the qualifier and
 * separator corner cases, and random strings over a version-like alphabet — with our comparator
 * and check Maven agrees with every consecutive pair (`<` or `==`): by transitivity the whole
 * order is Maven's. Skips (saying why) when Java or the jar is missing.
 */
import assert from 'node:assert/strict';
import { accessSync, readdirSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { compareMavenVersions } from '../../../src/formats/maven/version.ts';
import { findTool, run } from '../../helpers/tools.ts';
import { NUMBER_SEQUENCE, QUALIFIER_SEQUENCE } from './version-sequences.ts';

const JAR_CANDIDATES = [
  '/usr/share/maven/lib/maven-artifact-3.x.jar',
  '/usr/share/java/maven-artifact-3.x.jar',
];

function mavenJar(): string | undefined {
  for (const jar of JAR_CANDIDATES) {
    try {
      accessSync(jar);
      return jar;
    } catch {
      // not here
    }
  }
  return undefined;
}

const jar = mavenJar();
const skip =
  findTool('java') === undefined
    ? 'java not installed (Maven’s own ComparableVersion is the oracle)'
    : jar === undefined
      ? 'Maven not installed (no maven-artifact jar to compare with)'
      : false;

/** Version directory names under ~/.m2/repository (a directory holding a .pom), bounded. */
function localVersions(limit: number): string[] {
  const root = path.join(os.homedir(), '.m2', 'repository');
  const found = new Set<string>();
  const walk = (dir: string, depth: number): void => {
    if (found.size >= limit || depth > 12) return;
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      return;
    }
    if (names.some((n) => n.endsWith('.pom'))) found.add(path.basename(dir));
    for (const name of names) {
      const child = path.join(dir, name);
      try {
        if (statSync(child).isDirectory()) walk(child, depth + 1);
      } catch {
        // vanished
      }
    }
  };
  walk(root, 0);
  return [...found];
}

function randomVersions(count: number, seed: number): string[] {
  let state = seed;
  const next = (n: number): number => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state % n;
  };
  const parts = ['0', '1', '2', '10', '01', 'a', 'b', 'm', 'rc', 'cr', 'alpha', 'beta', 'sp'];
  const more = ['ga', 'final', 'release', 'snapshot', 'SNAPSHOT', 'foo', 'x', 'milestone', '9'];
  const all = [...parts, ...more];
  const seps = ['.', '-', ''];
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    let v = '';
    const n = 1 + next(5);
    for (let j = 0; j < n; j++) {
      if (j > 0) v += seps[next(seps.length)] as string;
      v += all[next(all.length)] as string;
    }
    if (next(10) === 0) v += seps[next(2)] as string;
    out.push(v);
  }
  return out;
}

test('our order is Maven’s own (ComparableVersion of the installed Maven)', { skip }, async () => {
  const corner = [
    ...QUALIFIER_SEQUENCE,
    ...NUMBER_SEQUENCE,
    '2.0.0.a',
    '1.foo',
    '1-foo',
    '1.0.RC2',
    '1.0-RC3',
    '1.0.1',
    '1-1.foo-bar1baz-.1',
    '1.0.0-foo.0.0',
    '1-ga-1',
    '1-sp-1',
    '1-sp.1',
    '1-ga.1',
    '1.a.b',
    '1.a.2',
    'a.b',
    '1.2.a.3',
    '1.0a1',
    '1.0-a1',
    '1-constructor',
    '1-__proto__',
    '1-[',
  ];
  const versions = [
    ...new Set([...corner, ...localVersions(1500), ...randomVersions(1500, 42)]),
  ].sort(compareMavenVersions);
  assert.ok(versions.length > 500, `only ${versions.length} versions to compare`);
  const result = await run('java', [
    '-cp',
    jar as string,
    'org.apache.maven.artifact.versioning.ComparableVersion',
    ...versions,
  ]);
  const relations = [...result.stdout.matchAll(/^ {3}(\S+) (<|==|>) (\S+)$/gm)];
  assert.equal(relations.length, versions.length - 1, 'one relation per consecutive pair');
  const disagreements: string[] = [];
  for (const [index, match] of relations.entries()) {
    const a = versions[index] as string;
    const b = versions[index + 1] as string;
    const ours = compareMavenVersions(a, b) === 0 ? '==' : '<';
    if (match[2] !== ours) disagreements.push(`${a} ${match[2] ?? '?'} ${b} (ours: ${ours})`);
  }
  assert.deepEqual(disagreements.slice(0, 20), [], `${disagreements.length} disagreements`);
});
