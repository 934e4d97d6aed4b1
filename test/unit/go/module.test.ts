/**
 * Module path and version rules (src/formats/go/module.ts), against the cases of
 * golang.org/x/mod/module's own tests (module_test.go, pseudo_test.go, v0.7.0) and
 * golang.org/x/mod/semver's.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  canonicalVersion,
  checkFilePath,
  checkImportPath,
  checkModuleVersion,
  checkPath,
  checkPathMajor,
  checkVersion,
  compareSemver,
  escapePath,
  escapeVersion,
  GoInputError,
  isPseudoVersion,
  isValidSemver,
  matchPrefixPatterns,
  pseudoVersionTime,
  sortVersions,
  splitPathVersion,
  unescapePath,
  unescapeVersion,
} from '../../../src/formats/go/module.ts';

// [path, module ok, import ok, file ok] from checkPathTests ("\xFF" becomes a lone surrogate,
// the JavaScript form of a string that is not valid UTF-8).
const CHECK_PATH: [string, boolean, boolean, boolean][] = [
  ['x.y/z', true, true, true],
  ['x.y', true, true, true],
  ['', false, false, false],
  ['x.y/\uDCFFz', false, false, false],
  ['/x.y/z', false, false, false],
  ['x./z', false, false, false],
  ['.x/z', false, true, true],
  ['-x/z', false, false, true],
  ['x..y/z', true, true, true],
  ['x.y/z/../../w', false, false, false],
  ['x.y//z', false, false, false],
  ['x.y/z//w', false, false, false],
  ['x.y/z/', false, false, false],
  ['x.y/z/v0', false, true, true],
  ['x.y/z/v1', false, true, true],
  ['x.y/z/v2', true, true, true],
  ['x.y/z/v2.0', false, true, true],
  ['X.y/z', false, true, true],
  ['!x.y/z', false, false, true],
  ['_x.y/z', false, true, true],
  ['x.y!/z', false, false, true],
  ['x.y"/z', false, false, false],
  ['x.y#/z', false, false, true],
  ['x.y$/z', false, false, true],
  ['x.y%/z', false, false, true],
  ['x.y&/z', false, false, true],
  ["x.y'/z", false, false, false],
  ['x.y(/z', false, false, true],
  ['x.y)/z', false, false, true],
  ['x.y*/z', false, false, false],
  ['x.y+/z', false, true, true],
  ['x.y,/z', false, false, true],
  ['x.y-/z', true, true, true],
  ['x.y./zt', false, false, false],
  ['x.y:/z', false, false, false],
  ['x.y;/z', false, false, false],
  ['x.y</z', false, false, false],
  ['x.y=/z', false, false, true],
  ['x.y>/z', false, false, false],
  ['x.y?/z', false, false, false],
  ['x.y@/z', false, false, true],
  ['x.y[/z', false, false, true],
  ['x.y\\/z', false, false, false],
  ['x.y]/z', false, false, true],
  ['x.y^/z', false, false, true],
  ['x.y_/z', false, true, true],
  ['x.y`/z', false, false, false],
  ['x.y{/z', false, false, true],
  ['x.y}/z', false, false, true],
  ['x.y~/z', false, true, true],
  ['x.y/z!', false, false, true],
  ['x.y/z"', false, false, false],
  ['x.y/z#', false, false, true],
  ['x.y/z$', false, false, true],
  ['x.y/z%', false, false, true],
  ['x.y/z&', false, false, true],
  ["x.y/z'", false, false, false],
  ['x.y/z(', false, false, true],
  ['x.y/z)', false, false, true],
  ['x.y/z*', false, false, false],
  ['x.y/z++', false, true, true],
  ['x.y/z,', false, false, true],
  ['x.y/z-', true, true, true],
  ['x.y/z.t', true, true, true],
  ['x.y/z/t', true, true, true],
  ['x.y/z:', false, false, false],
  ['x.y/z;', false, false, false],
  ['x.y/z<', false, false, false],
  ['x.y/z=', false, false, true],
  ['x.y/z>', false, false, false],
  ['x.y/z?', false, false, false],
  ['x.y/z@', false, false, true],
  ['x.y/z[', false, false, true],
  ['x.y/z\\', false, false, false],
  ['x.y/z]', false, false, true],
  ['x.y/z^', false, false, true],
  ['x.y/z_', true, true, true],
  ['x.y/z`', false, false, false],
  ['x.y/z{', false, false, true],
  ['x.y/z}', false, false, true],
  ['x.y/z~', true, true, true],
  ['x.y/x.foo', true, true, true],
  ['x.y/aux.foo', false, false, false],
  ['x.y/prn', false, false, false],
  ['x.y/prn2', true, true, true],
  ['x.y/com', true, true, true],
  ['x.y/com1', false, false, false],
  ['x.y/com1.txt', false, false, false],
  ['x.y/calm1', true, true, true],
  ['x.y/z~', true, true, true],
  ['x.y/z~0', false, false, true],
  ['x.y/z~09', false, false, true],
  ['x.y/z09', true, true, true],
  ['x.y/z09~', true, true, true],
  ['x.y/z09~09z', true, true, true],
  ['x.y/z09~09z~09', false, false, true],
  ['github.com/!123/logrus', false, false, true],
  ['github.com/user/unicode/испытание', false, false, true],
  ['../x', false, false, false],
  ['./y', false, false, false],
  ['x:y', false, false, false],
  [String.raw`\temp\foo`, false, false, false],
  ['.gitignore', false, true, true],
  ['.github/ISSUE_TEMPLATE', false, true, true],
  ['x☺y', false, false, false],
];

// [path, version, ok] from checkTests.
const CHECK: [string, string, boolean][] = [
  ['rsc.io/quote', '0.1.0', false],
  ['rsc io/quote', 'v1.0.0', false],
  ['github.com/go-yaml/yaml', 'v0.8.0', true],
  ['github.com/go-yaml/yaml', 'v1.0.0', true],
  ['github.com/go-yaml/yaml', 'v2.0.0', false],
  ['github.com/go-yaml/yaml', 'v2.1.5', false],
  ['github.com/go-yaml/yaml', 'v3.0.0', false],
  ['github.com/go-yaml/yaml/v2', 'v1.0.0', false],
  ['github.com/go-yaml/yaml/v2', 'v2.0.0', true],
  ['github.com/go-yaml/yaml/v2', 'v2.1.5', true],
  ['github.com/go-yaml/yaml/v2', 'v3.0.0', false],
  ['gopkg.in/yaml.v0', 'v0.8.0', true],
  ['gopkg.in/yaml.v0', 'v1.0.0', false],
  ['gopkg.in/yaml.v0', 'v2.0.0', false],
  ['gopkg.in/yaml.v0', 'v2.1.5', false],
  ['gopkg.in/yaml.v0', 'v3.0.0', false],
  ['gopkg.in/yaml.v1', 'v0.8.0', false],
  ['gopkg.in/yaml.v1', 'v1.0.0', true],
  ['gopkg.in/yaml.v1', 'v2.0.0', false],
  ['gopkg.in/yaml.v1', 'v2.1.5', false],
  ['gopkg.in/yaml.v1', 'v3.0.0', false],
  ['gopkg.in/check.v1', 'v0.0.0', false],
  ['gopkg.in/check.v1', 'v0.0.0-20160102150405-abcdef123456', true],
  ['gopkg.in/yaml.v2', 'v1.0.0', false],
  ['gopkg.in/yaml.v2', 'v2.0.0', true],
  ['gopkg.in/yaml.v2', 'v2.1.5', true],
  ['gopkg.in/yaml.v2', 'v3.0.0', false],
  ['rsc.io/quote', 'v17.0.0', false],
  ['rsc.io/quote', 'v17.0.0+incompatible', true],
];

test('checkPath / checkImportPath / checkFilePath follow x/mod/module', () => {
  for (const [path, ok, importOK, fileOK] of CHECK_PATH) {
    assert.equal(checkPath(path) === undefined, ok, `checkPath(${JSON.stringify(path)})`);
    assert.equal(checkImportPath(path) === undefined, importOK, `checkImportPath(${path})`);
    assert.equal(checkFilePath(path) === undefined, fileOK, `checkFilePath(${path})`);
    const { prefix, pathMajor } = splitPathVersion(path);
    assert.equal(prefix + pathMajor, path);
  }
});

test('checkModuleVersion follows x/mod/module.Check', () => {
  for (const [path, version, ok] of CHECK) {
    assert.equal(checkModuleVersion(path, version) === undefined, ok, `${path}@${version}`);
  }
  // The go command's extra rules: canonical versions only, +incompatible only past v1.
  assert.ok(checkModuleVersion('rsc.io/quote', 'v1.2') !== undefined);
  assert.ok(checkModuleVersion('rsc.io/quote', 'v1.2.3+meta') !== undefined);
  assert.ok(checkModuleVersion('rsc.io/quote', 'v1.2.3+incompatible') !== undefined);
  assert.ok(checkModuleVersion('rsc.io/quote/v3', 'v3.0.0+incompatible') !== undefined);
  assert.equal(checkModuleVersion('rsc.io/quote/v3', 'v3.1.0'), undefined);
  assert.equal(checkModuleVersion('rsc.io/quote', 'v0.0.0-20191109021931-daa7c04131f5'), undefined);
  assert.match(checkVersion('1.0.0') ?? '', /not a semantic version/);
});

test('splitPathVersion and checkPathMajor', () => {
  for (const [prefix, major] of [
    ['x.y/z', ''],
    ['x.y/z', '/v2'],
    ['x.y/z', '/v3'],
    ['x.y/v', ''],
    ['gopkg.in/yaml', '.v0'],
    ['gopkg.in/yaml', '.v1'],
    ['gopkg.in/yaml', '.v2'],
    ['gopkg.in/yaml', '.v3'],
  ] as const) {
    assert.deepEqual(splitPathVersion(prefix + major), { prefix, pathMajor: major, ok: true });
  }
  for (const [v, pathMajor, want] of [
    ['v0.0.0', '', true],
    ['v0.0.0', '/v2', false],
    ['v0.0.0', '.v0', true],
    ['v0.0.0-20190510104115-cbcb75029529', '.v1', true],
    ['v1.0.0', '/v2', false],
    ['v1.0.0', '.v1', true],
    ['v1.0.0', '.v1-unstable', true],
    ['v2.0.0+incompatible', '', true],
    ['v2.0.0', '', false],
    ['v2.0.0', '/v2', true],
    ['v2.0.0', '.v2', true],
  ] as const) {
    assert.equal(checkPathMajor(v, pathMajor) === undefined, want, `${v} ${pathMajor}`);
  }
});

test('case-encoding: escape and unescape', () => {
  assert.equal(
    escapePath('ascii.com/abcdefghijklmnopqrstuvwxyz.-/~_0123456789'),
    'ascii.com/abcdefghijklmnopqrstuvwxyz.-/~_0123456789',
  );
  assert.equal(
    escapePath('github.com/GoogleCloudPlatform/omega'),
    'github.com/!google!cloud!platform/omega',
  );
  assert.equal(
    unescapePath('github.com/!google!cloud!platform/omega'),
    'github.com/GoogleCloudPlatform/omega',
  );
  for (const bad of [
    'github.com/GoogleCloudPlatform/omega',
    'github.com/!google!cloud!platform!/omega',
    'github.com/!0google!cloud!platform/omega',
    'github.com/!_google!cloud!platform/omega',
    'github.com/!!google!cloud!platform/omega',
    '',
  ]) {
    assert.throws(() => unescapePath(bad), GoInputError, bad);
  }
  for (const [path, ok] of CHECK_PATH) {
    if (!ok) {
      assert.throws(() => escapePath(path), GoInputError);
      assert.throws(() => unescapePath(path), GoInputError);
    }
  }
  assert.equal(escapeVersion('v1.0.0-RC1'), 'v1.0.0-!r!c1');
  assert.equal(unescapeVersion('v1.0.0-!r!c1'), 'v1.0.0-RC1');
  assert.throws(() => unescapeVersion('v1.0.0-RC1'), GoInputError);
  assert.throws(() => escapeVersion('v1!'), GoInputError);
  assert.equal(unescapeVersion('master'), 'master');
});

// From pseudoTests: [older, pseudo-version].
const PSEUDO: [string, string][] = [
  ['', 'v0.0.0-20060102150405-hash'],
  ['', 'v1.0.0-20060102150405-hash'],
  ['', 'v2.0.0-20060102150405-hash'],
  ['v0.0.0', 'v0.0.1-0.20060102150405-hash'],
  ['v1.2.3', 'v1.2.4-0.20060102150405-hash'],
  ['v1.2.99999999999999999', 'v1.2.100000000000000000-0.20060102150405-hash'],
  ['v1.2.3-pre', 'v1.2.3-pre.0.20060102150405-hash'],
  ['v1.3.0-pre', 'v1.3.0-pre.0.20060102150405-hash'],
  ['v0.0.0--', 'v0.0.0--.0.20060102150405-hash'],
  ['v1.0.0+metadata', 'v1.0.1-0.20060102150405-hash+metadata'],
  ['v2.0.0+incompatible', 'v2.0.1-0.20060102150405-hash+incompatible'],
  ['v2.3.0-pre+incompatible', 'v2.3.0-pre.0.20060102150405-hash+incompatible'],
];

test('isPseudoVersion and pseudoVersionTime follow x/mod/module pseudo.go', () => {
  for (const [older, v] of PSEUDO) {
    assert.ok(isPseudoVersion(v), v);
    assert.equal(pseudoVersionTime(v), '2006-01-02T15:04:05Z', v);
    if (older !== '') {
      assert.ok(!isPseudoVersion(older), older);
      assert.equal(pseudoVersionTime(older), undefined);
    }
  }
  assert.equal(pseudoVersionTime('---'), undefined);
  assert.equal(pseudoVersionTime('v0.0.0-20061302150405-hash'), undefined);
});

test('Go semver: validity, canonical form and order (x/mod/semver)', () => {
  // [version, canonical ('' = invalid)] from semver_test.go.
  for (const [v, canon] of [
    ['bad', ''],
    ['v1-alpha.beta.gamma', ''],
    ['v1-pre', ''],
    ['v1+meta', ''],
    ['v1-pre+meta', ''],
    ['v1.2-pre', ''],
    ['v1.2+meta', ''],
    ['v1.2-pre+meta', ''],
    ['v1.0.0-alpha', 'v1.0.0-alpha'],
    ['v1.0.0-alpha.1', 'v1.0.0-alpha.1'],
    ['v1.0.0-alpha.beta', 'v1.0.0-alpha.beta'],
    ['v1.0.0-beta', 'v1.0.0-beta'],
    ['v1.0.0-beta.2', 'v1.0.0-beta.2'],
    ['v1.0.0-beta.11', 'v1.0.0-beta.11'],
    ['v1.0.0-rc.1', 'v1.0.0-rc.1'],
    ['v1', 'v1.0.0'],
    ['v1.0', 'v1.0.0'],
    ['v1.0.0', 'v1.0.0'],
    ['v1.2', 'v1.2.0'],
    ['v1.2.0', 'v1.2.0'],
    ['v1.2.3-456', 'v1.2.3-456'],
    ['v1.2.3-456.789', 'v1.2.3-456.789'],
    ['v1.2.3-456-789', 'v1.2.3-456-789'],
    ['v1.2.3-456a', 'v1.2.3-456a'],
    ['v1.2.3-pre', 'v1.2.3-pre'],
    ['v1.2.3-pre+meta', 'v1.2.3-pre'],
    ['v1.2.3-pre.1', 'v1.2.3-pre.1'],
    ['v1.2.3-zzz', 'v1.2.3-zzz'],
    ['v1.2.3', 'v1.2.3'],
    ['v1.2.3+meta', 'v1.2.3'],
    ['v1.2.3+meta-pre', 'v1.2.3'],
    ['v1.2.3+meta-pre.sha.256a', 'v1.2.3'],
    ['v1.2.3-01', ''],
    ['v01.2.3', ''],
    ['1.2.3', ''],
  ] as const) {
    assert.equal(isValidSemver(v), canon !== '', v);
    assert.equal(canonicalVersion(v), canon, v);
  }
  assert.equal(canonicalVersion('v2.0.0+incompatible'), 'v2.0.0+incompatible');
  // Ascending order, from semver_test.go's table (equal neighbours share a canonical form).
  const ordered = [
    'bad',
    'v1.0.0-alpha',
    'v1.0.0-alpha.1',
    'v1.0.0-alpha.beta',
    'v1.0.0-beta',
    'v1.0.0-beta.2',
    'v1.0.0-beta.11',
    'v1.0.0-rc.1',
    'v1.0.0',
    'v1.2.0',
    'v1.2.3-456',
    'v1.2.3-456.789',
    'v1.2.3-456-789',
    'v1.2.3-456a',
    'v1.2.3-pre',
    'v1.2.3-pre.1',
    'v1.2.3-zzz',
    'v1.2.3',
    'v1.10.0',
    'v2.0.0',
    'v10.0.0',
  ];
  for (let i = 0; i < ordered.length; i++) {
    for (let j = 0; j < ordered.length; j++) {
      assert.equal(
        compareSemver(ordered[i] ?? '', ordered[j] ?? ''),
        Math.sign(i - j),
        `${ordered[i]} vs ${ordered[j]}`,
      );
    }
  }
  assert.equal(compareSemver('v1.2.3+meta', 'v1.2.3'), 0);
  assert.equal(compareSemver('v1', 'v1.0.0'), 0);
  assert.deepEqual(
    sortVersions(['v1.10.0', 'v1.2.0', 'v1.2.0-rc.1', 'v0.0.0-20060102150405-hash']),
    ['v0.0.0-20060102150405-hash', 'v1.2.0-rc.1', 'v1.2.0', 'v1.10.0'],
  );
});

test('matchPrefixPatterns follows x/mod/module.MatchPrefixPatterns (GOPRIVATE)', () => {
  for (const [globs, target, want] of [
    ['', 'rsc.io/quote', false],
    ['/', 'rsc.io/quote', false],
    ['*/quote', 'rsc.io/quote', true],
    ['*/quo', 'rsc.io/quote', false],
    ['*/quo??', 'rsc.io/quote', true],
    ['*/quo*', 'rsc.io/quote', true],
    ['*quo*', 'rsc.io/quote', false],
    ['rsc.io', 'rsc.io/quote', true],
    ['*.io', 'rsc.io/quote', true],
    ['rsc.io/', 'rsc.io/quote', true],
    ['rsc', 'rsc.io/quote', false],
    ['rsc*', 'rsc.io/quote', true],
    ['rsc.io', 'rsc.io/quote/v3', true],
    ['*/quote', 'rsc.io/quote/v3', true],
    ['*/quote/', 'rsc.io/quote/v3', true],
    ['*/quote/*', 'rsc.io/quote/v3', true],
    ['*/quote/*/', 'rsc.io/quote/v3', true],
    ['*/v3', 'rsc.io/quote/v3', false],
    ['*/*/v3', 'rsc.io/quote/v3', true],
    ['*/*/*', 'rsc.io/quote/v3', true],
    ['*/*/*/', 'rsc.io/quote/v3', true],
    ['*/*/*', 'rsc.io/quote', false],
    ['*/*/*/', 'rsc.io/quote', false],
    ['*/*/*,,', 'rsc.io/quote', false],
    ['*/*/*,,*/quote', 'rsc.io/quote', true],
    [',,*/quote', 'rsc.io/quote', true],
    ['corp.example/[a-c]*', 'corp.example/b1/x', true],
    ['corp.example/[^a-c]*', 'corp.example/b1/x', false],
  ] as const) {
    assert.equal(matchPrefixPatterns(globs, target), want, `${globs} ~ ${target}`);
  }
});
