/**
 * The lock-file parsers of `nora mirror` (src/mirror/npm.ts, yarn.ts, pip.ts): the project's own
 * package-lock.json (v3, written by npm) and hand-written files in each format's real shapes,
 * the entries each one skips, and the bad files that must be exit-2 input errors.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import {
  parsePackageList,
  parsePackageLock,
  tarballPath,
  packumentPath,
} from '../../../src/mirror/npm.ts';
import { parseRequirements, selectFiles, readProjectPage } from '../../../src/mirror/pip.ts';
import { parseSri } from '../../../src/mirror/pull.ts';
import { MirrorInputError } from '../../../src/mirror/types.ts';
import { parseYarnLock } from '../../../src/mirror/yarn.ts';
import { PROJECT_ROOT } from '../../helpers/tools.ts';

const SHA512 = `sha512-${Buffer.alloc(64, 7).toString('base64')}`;
const SHA1 = `sha1-${Buffer.alloc(20, 9).toString('base64')}`;

describe('package-lock.json', () => {
  test("v3: the project's own lock file (npm wrote it): every package with its integrity", async () => {
    const text = await fs.readFile(path.join(PROJECT_ROOT, 'package-lock.json'), 'utf8');
    const raw = JSON.parse(text) as { packages: Record<string, { link?: boolean }> };
    const lock = parsePackageLock(text);
    assert.equal(lock.lockfileVersion, 3);
    assert.ok(lock.packages.length > 100, `${lock.packages.length} packages`);
    assert.ok(lock.packages.every((p) => p.integrity?.startsWith('sha512-')));
    assert.ok(
      lock.packages.some((p) => p.name.startsWith('@')),
      'scoped names',
    );
    const locations = Object.keys(raw.packages).filter((k) => k.includes('node_modules/'));
    // Every location is a package, skipped, or a repeat of one version at another path.
    assert.ok(lock.packages.length + lock.skipped.length <= locations.length);
  });

  test('v2: packages tree; link, bundled, file:, git and URL tarballs skipped; aliases; repeats once', () => {
    const lock = parsePackageLock(
      JSON.stringify({
        name: 'app',
        lockfileVersion: 2,
        requires: true,
        packages: {
          '': { name: 'app', version: '1.0.0', workspaces: ['packages/*'] },
          'packages/a': { name: 'a', version: '0.1.0' },
          'node_modules/a': { resolved: 'packages/a', link: true },
          'node_modules/left-pad': {
            version: '1.3.0',
            resolved: 'https://registry.example/left-pad/-/left-pad-1.3.0.tgz',
            integrity: SHA512,
          },
          'node_modules/@types/node': {
            version: '20.1.0',
            resolved: 'https://registry.example/@types/node/-/node-20.1.0.tgz',
            integrity: SHA512,
            dev: true,
          },
          'node_modules/x/node_modules/left-pad': { version: '1.3.0', integrity: SHA512 },
          'node_modules/x': { version: '2.0.0', integrity: SHA1, bundleDependencies: ['y'] },
          'node_modules/x/node_modules/y': { version: '1.0.0', inBundle: true },
          'node_modules/local': { version: '1.0.0', resolved: 'file:../local' },
          'node_modules/gitdep': {
            version: '1.0.0',
            resolved: 'git+ssh://git@github.com/o/gitdep.git#abc',
          },
          'node_modules/urltar': { version: '1.0.0', resolved: 'https://example.com/urltar.tgz' },
          'node_modules/alias': {
            name: 'real',
            version: '3.0.0',
            resolved: 'https://registry.example/real/-/real-3.0.0.tgz',
            integrity: SHA512,
          },
        },
        dependencies: { 'left-pad': { version: '1.3.0' } },
      }),
    );
    assert.deepEqual(
      lock.packages.map((p) => `${p.name}@${p.version}`),
      ['left-pad@1.3.0', '@types/node@20.1.0', 'x@2.0.0', 'real@3.0.0'],
    );
    assert.deepEqual(
      lock.skipped.map((s) => s.label),
      ['npm a', 'npm y', 'npm local', 'npm gitdep', 'npm urltar'],
    );
    assert.match(lock.skipped[3]?.reason ?? '', /git dependency/);
  });

  test('v1: the nested dependencies tree, npm: aliases, bundled and local entries', () => {
    const lock = parsePackageLock(
      JSON.stringify({
        name: 'app',
        lockfileVersion: 1,
        dependencies: {
          a: {
            version: '1.0.0',
            resolved: 'https://registry.example/a/-/a-1.0.0.tgz',
            integrity: SHA512,
            dependencies: {
              b: { version: '2.0.0', integrity: SHA1 },
              c: { version: '1.0.0', bundled: true },
            },
          },
          b: { version: '1.0.0', integrity: SHA1 },
          d: { version: 'npm:@s/real@4.1.0', integrity: SHA512 },
          e: { version: 'file:../e' },
          f: { version: 'github:o/f#abc', from: 'github:o/f' },
        },
      }),
    );
    assert.deepEqual(
      lock.packages.map((p) => `${p.name}@${p.version}`),
      ['b@2.0.0', 'a@1.0.0', 'b@1.0.0', '@s/real@4.1.0'],
    );
    assert.deepEqual(
      lock.skipped.map((s) => s.label),
      ['npm c', 'npm e', 'npm f'],
    );
  });

  test('bad files are input errors naming the file', () => {
    const bad: [string, RegExp][] = [
      ['{not json', /is not JSON/],
      ['{"name":"x"}', /no "lockfileVersion"/],
      ['{"lockfileVersion":4,"packages":{}}', /lockfileVersion 4/],
      ['{"lockfileVersion":3}', /without a "packages" object/],
      ['{"lockfileVersion":3,"packages":{"node_modules/a":"1.0.0"}}', /is not an object/],
      ['[]', /no "lockfileVersion"/],
    ];
    for (const [text, message] of bad) {
      assert.throws(
        () => parsePackageLock(text, 'the-lock.json'),
        (err: Error) => err instanceof MirrorInputError && message.test(err.message),
        text,
      );
    }
  });

  test('paths: scoped packuments as npm asks, tarballs as registries name them', () => {
    assert.equal(packumentPath('/npm', '@types/node'), '/npm/@types%2fnode');
    assert.equal(
      tarballPath('/npm', '@types/node', '20.1.0'),
      '/npm/@types/node/-/node-20.1.0.tgz',
    );
    assert.equal(
      tarballPath('/repository/r', 'a', '1.0.0+b.1'),
      '/repository/r/a/-/a-1.0.0%2Bb.1.tgz',
    );
  });

  test('--packages lists', () => {
    assert.deepEqual(parsePackageList('a, @s/b@1.2.3,c@^2,d@next'), [
      { name: 'a', selector: undefined },
      { name: '@s/b', selector: '1.2.3' },
      { name: 'c', selector: '^2' },
      { name: 'd', selector: 'next' },
    ]);
    assert.throws(() => parsePackageList(' , '), MirrorInputError);
    assert.throws(() => parsePackageList('a@'), MirrorInputError);
    assert.throws(() => parsePackageList('a/b/c'), MirrorInputError);
  });

  test('SRI: the strongest algorithm present, as npm checks it', () => {
    const sha1hex = Buffer.alloc(20, 9).toString('hex');
    assert.deepEqual(parseSri(`${SHA1} ${SHA512}`), [
      { algorithm: 'sha512', hex: Buffer.alloc(64, 7).toString('hex') },
    ]);
    assert.deepEqual(parseSri(SHA1), [{ algorithm: 'sha1', hex: sha1hex }]);
    assert.deepEqual(parseSri('md5-abc'), []);
    assert.deepEqual(parseSri(undefined), []);
  });
});

describe('yarn.lock', () => {
  test('v1 (yarn classic): keys, aliases, integrity or the #sha1 of resolved, skips', () => {
    const text = `# THIS IS AN AUTOGENERATED FILE. DO NOT EDIT THIS FILE DIRECTLY.
# yarn lockfile v1


"@babel/code-frame@^7.0.0", "@babel/code-frame@^7.10.4":
  version "7.12.13"
  resolved "https://registry.yarnpkg.example/@babel/code-frame/-/code-frame-7.12.13.tgz#dcfc826beef65e75c50e21d3837d7d95798dd658"
  integrity ${SHA512}
  dependencies:
    "@babel/highlight" "^7.12.13"

left-pad@^1.3.0:
  version "1.3.0"
  resolved "https://registry.yarnpkg.example/left-pad/-/left-pad-1.3.0.tgz#5b8a3a7765dfe001261dde915589e782f8c94d1e"

"my-alias@npm:real-pkg@^2.0.0":
  version "2.1.0"
  resolved "https://registry.yarnpkg.example/real-pkg/-/real-pkg-2.1.0.tgz"
  integrity ${SHA512}

"local@file:../local":
  version "1.0.0"

"gitdep@https://codeload.github.com/o/gitdep/tar.gz/abc":
  version "1.0.0"
  resolved "https://codeload.github.com/o/gitdep/tar.gz/abc"
`;
    const lock = parseYarnLock(text);
    assert.equal(lock.format, 'v1');
    assert.deepEqual(lock.packages, [
      { name: '@babel/code-frame', version: '7.12.13', integrity: SHA512 },
      {
        name: 'left-pad',
        version: '1.3.0',
        integrity: `sha1-${Buffer.from('5b8a3a7765dfe001261dde915589e782f8c94d1e', 'hex').toString('base64')}`,
      },
      { name: 'real-pkg', version: '2.1.0', integrity: SHA512 },
    ]);
    assert.deepEqual(
      lock.skipped.map((s) => s.label),
      ['yarn local', 'yarn gitdep'],
    );
  });

  test('berry: resolutions, workspaces silent, patch/git/file skipped, no checksum checked', () => {
    const text = `# This file is generated by running "yarn install" inside your project.
# Manual changes might be lost - proceed with caution!

__metadata:
  version: 8
  cacheKey: 10c0

"@types/node@npm:^20.0.0":
  version: 20.11.5
  resolution: "@types/node@npm:20.11.5"
  dependencies:
    undici-types: "npm:~5.26.4"
  checksum: 10c0/abcdef
  languageName: node
  linkType: hard

"app@workspace:.":
  version: 0.0.0-use.local
  resolution: "app@workspace:."
  languageName: unknown
  linkType: soft

"alias@npm:left-pad@^1.3.0, left-pad@npm:^1.3.0":
  version: 1.3.0
  resolution: "left-pad@npm:1.3.0"
  checksum: 10c0/123
  languageName: node
  linkType: hard

"resolve@patch:resolve@npm%3A^1.22.1#optional!builtin<compat/resolve>":
  version: 1.22.8
  resolution: "resolve@patch:resolve@npm%3A1.22.8#optional!builtin<compat/resolve>::version=1.22.8&hash=c3c19d"
  languageName: node
  linkType: hard

"gitdep@https://github.com/o/gitdep.git#commit=abc":
  version: 1.0.0
  resolution: "gitdep@https://github.com/o/gitdep.git#commit=abc"
  languageName: node
  linkType: hard
`;
    const lock = parseYarnLock(text);
    assert.equal(lock.format, 'berry');
    assert.deepEqual(lock.packages, [
      { name: '@types/node', version: '20.11.5' },
      { name: 'left-pad', version: '1.3.0' },
    ]);
    assert.deepEqual(
      lock.skipped.map((s) => s.label),
      ['yarn resolve', 'yarn gitdep'],
    );
  });

  test('bad yarn.lock files are input errors with the line', () => {
    assert.throws(
      () => parseYarnLock('{"lockfileVersion": 3}', 'y.lock'),
      (err: Error) => err instanceof MirrorInputError && /y\.lock line 1/.test(err.message),
    );
    assert.throws(() => parseYarnLock('', 'y.lock'), /not a yarn\.lock/);
    assert.throws(() => parseYarnLock('  version "1"\n'), /indented outside any entry/);
  });
});

describe('requirements.txt', () => {
  const files: Record<string, string> = {
    'req/base.txt': 'six==1.16.0  # via -r req/main.txt\n',
  };
  const read = (file: string) => {
    const text = files[file];
    return text === undefined
      ? Promise.reject(new MirrorInputError(`cannot read ${file}: no such file`))
      : Promise.resolve(text);
  };

  test('pins, hashes over continuation lines, extras, markers, -r, options and skips', async () => {
    const text = `#
# This file is autogenerated by pip-compile with Python 3.11
#
--index-url https://pypi.example/simple/
-r base.txt
certifi==2024.2.2 \\
    --hash=sha256:0569859f95fc761b18b45ef421b1290a0f65f147e92a1e5eb3e635f9a5e4e66f \\
    --hash=sha256:DC383C07B76109F368F6106EEE2B593B04A011EA4D55F652C6CA24A754D1CDD1
    # via requests
Django[argon2]>=4.2,<5 ; python_version >= "3.8"
requests
-e ./local-pkg
./wheels/thing-1.0-py3-none-any.whl
pkg @ https://example.com/pkg-1.0.tar.gz
-c constraints.txt
`;
    const parsed = await parseRequirements(text, 'req/main.txt', read);
    assert.deepEqual(
      parsed.requirements.map((r) => [r.project, r.specifier, r.hashes.length, r.where]),
      [
        ['six', '==1.16.0', 0, 'req/base.txt:1'],
        ['certifi', '==2024.2.2', 2, 'req/main.txt:6'],
        ['django', '>=4.2,<5', 0, 'req/main.txt:10'],
        ['requests', '', 0, 'req/main.txt:11'],
      ],
    );
    assert.equal(
      parsed.requirements[1]?.hashes[1]?.hex,
      'dc383c07b76109f368f6106eee2b593b04a011ea4d55f652c6ca24a754d1cdd1',
    );
    assert.equal(parsed.skipped.length, 4);
  });

  test('bad lines are input errors naming file:line', async () => {
    const bad: [string, RegExp][] = [
      ['=>1.0\n', /r\.txt:1: "=>1.0" is not a requirement/],
      ['ok==1\nfoo=>1.0\n', /r\.txt:2: "=>1.0" is not a version specifier/],
      ['a==1 --hash=md5:abc\n', /--hash=md5:abc is not/],
      ['-r missing.txt\n', /cannot read missing\.txt/],
    ];
    for (const [text, message] of bad) {
      await assert.rejects(parseRequirements(text, 'r.txt', read), message, text);
    }
  });

  test('a version is chosen as pip chooses: the pin, or the highest final release', () => {
    const page = readProjectPage(
      JSON.stringify({
        meta: { 'api-version': '1.1' },
        name: 'demo',
        files: [
          { filename: 'demo-1.0.tar.gz', url: 'x', hashes: { sha256: 'aa' } },
          { filename: 'demo-1.0-py3-none-any.whl', url: 'x', hashes: {}, 'core-metadata': true },
          { filename: 'demo-1.1.0-py3-none-any.whl', url: 'x', hashes: {}, yanked: 'broken' },
          { filename: 'demo-1.2b1.tar.gz', url: 'x', hashes: {} },
          { filename: 'demo-0.9.tar.gz', url: 'x', hashes: {} },
        ],
      }),
      '/simple/demo/',
    );
    const req = (specifier: string) => ({
      name: 'demo',
      project: 'demo',
      specifier,
      hashes: [],
      where: 'r:1',
    });
    const pick = (specifier: string) => {
      const chosen = selectFiles(req(specifier), page, '/simple/demo/');
      return `${chosen.version}: ${chosen.files.map((f) => f.filename).join(' ')}`;
    };
    assert.equal(pick(''), '1.0: demo-1.0.tar.gz demo-1.0-py3-none-any.whl');
    assert.equal(pick('==1.0.0'), '1.0: demo-1.0.tar.gz demo-1.0-py3-none-any.whl');
    assert.equal(pick('==1.1'), '1.1.0: demo-1.1.0-py3-none-any.whl', 'a pinned yanked file');
    assert.equal(pick('<1'), '0.9: demo-0.9.tar.gz');
    assert.equal(pick('>=1.2b1'), '1.2b1: demo-1.2b1.tar.gz');
    assert.throws(() => pick('==3'), /\/simple\/demo\/ lists no file of ==3/);
    assert.deepEqual(page[1]?.metadata, {});
  });
});
