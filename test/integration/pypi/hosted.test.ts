/**
 * Hosted PyPI repository through its own functions (PypiHosted): the legacy upload with real
 * Debian wheels and hand-made sdists/wheels, every bad input of the issue (traversal, unparsable
 * filename, name/version mismatch, digest mismatch, truncated multipart, zip bomb, wheel without
 * METADATA, oversize → 413) leaving nothing behind, duplicates, PEP 440-equal versions in one
 * release, yank/unyank/delete, PEP 658 metadata and the Warehouse JSON API.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { buffer } from 'node:stream/consumers';
import { gunzipSync, gzipSync } from 'node:zlib';
import { after, before, describe, test } from 'node:test';
import { RegistryError } from '../../../src/core/errors.ts';
import { blake2b } from '@noble/hashes/blake2.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import type { UploadResult } from '../../../src/formats/pypi/upload.ts';
import {
  BOUNDARY,
  chunked,
  coreMetadata,
  digestsOf,
  hostedFixture,
  makeSdist,
  makeWheel,
  makeZip,
  MULTIPART,
  multipartBody,
  twineFields,
  type FormFields,
  type HostedFixture,
} from './fixtures.ts';

type File = { filename: string; data: Buffer };

const DEBIAN_WHEELS = '/usr/share/python-wheels';

function upload(
  fx: HostedFixture,
  fields: FormFields,
  file: File | null,
  options: { fileFirst?: boolean; contentType?: string } = {},
): Promise<UploadResult> {
  return fx.hosted.upload(
    fx.repo,
    'alice',
    options.contentType ?? MULTIPART,
    chunked(multipartBody(fields, file, options)),
  );
}

async function refused(
  fx: HostedFixture,
  promise: Promise<unknown>,
  status: number,
  message: RegExp,
): Promise<void> {
  const before = await fx.fileRows();
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof RegistryError, `expected a RegistryError, got ${String(err)}`);
    assert.equal(err.status, status, err.message);
    assert.match(err.message, message);
    assert.doesNotMatch(err.message, /\n/, 'one line (it becomes the HTTP reason phrase)');
    return true;
  });
  assert.equal(await fx.fileRows(), before, 'no row written');
  assert.deepEqual(await fx.spoolFiles(), [], 'no spool file left');
}

describe('pypi hosted: upload', () => {
  let fx: HostedFixture;
  before(async () => {
    fx = await hostedFixture(2 * 1024 * 1024);
  });
  after(async () => {
    await fx.close();
  });

  test('real Debian wheels upload with PEP 658 metadata extracted, hashed and served', async (t) => {
    const wheels = existsSync(DEBIAN_WHEELS)
      ? readdirSync(DEBIAN_WHEELS).filter((f) => f.endsWith('.whl'))
      : [];
    if (wheels.length === 0) {
      t.skip(`no wheels in ${DEBIAN_WHEELS} (python3-pip-whl etc. not installed)`);
      return;
    }
    const big = await hostedFixture(64 * 1024 * 1024);
    try {
      for (const filename of wheels) {
        const data = readFileSync(`${DEBIAN_WHEELS}/${filename}`);
        const [name = '', version = ''] = filename.split('-');
        const result = await upload(big, twineFields(name, version, { filename, data }), {
          filename,
          data,
        });
        assert.equal(result.filename, filename);
        assert.equal(result.sha256, createHash('sha256').update(data).digest('hex'));
        assert.equal(result.duplicate, false);
        const page = await big.hosted.projectPage(big.repo, name.toLowerCase());
        const listed = page?.files.find((f) => f.filename === filename);
        assert.ok(listed, `${filename} listed`);
        assert.equal(listed.size, data.length);
        const meta = await big.hosted.openCoreMetadata(big.repo, name.toLowerCase(), filename);
        assert.ok(meta, 'core metadata served');
        const metaBytes = await buffer(await meta.open());
        assert.equal(
          listed.coreMetadata?.sha256,
          createHash('sha256').update(metaBytes).digest('hex'),
        );
        assert.match(metaBytes.toString(), new RegExp(`^Name: ${name}$`, 'im'));
        const opened = await big.hosted.openFile(big.repo, name.toLowerCase(), filename);
        assert.ok(opened);
        assert.ok((await buffer(await opened.open())).equals(data), 'the bytes read back');
        const ranged = await buffer(await opened.open({ start: 10, end: 19 }));
        assert.ok(ranged.equals(data.subarray(10, 20)), 'a range reads back');
      }
      assert.deepEqual(
        [...(await big.hosted.projectNames(big.repo))].sort(),
        wheels.map((w) => (w.split('-')[0] ?? '').toLowerCase()).sort(),
      );
    } finally {
      await big.close();
    }
  });

  test('an sdist and a wheel, fields before or after the content part; the page lists both', async () => {
    const sdist = makeSdist('My.Package_x', '1.0');
    const r1 = await upload(fx, twineFields('My.Package_x', '1.0', sdist), sdist);
    assert.deepEqual(
      { project: r1.project, filename: r1.filename, version: r1.version, duplicate: r1.duplicate },
      {
        project: 'my-package-x',
        filename: 'my_package_x-1.0.tar.gz',
        version: '1.0',
        duplicate: false,
      },
    );
    const wheel = makeWheel('My.Package_x', '1.0');
    await upload(fx, twineFields('My.Package_x', '1.0', wheel), wheel, { fileFirst: true });
    const page = await fx.hosted.projectPage(fx.repo, 'my-package-x');
    assert.ok(page);
    assert.equal(page.name, 'my-package-x');
    const files = [...page.files].sort((a, b) => a.filename.localeCompare(b.filename));
    assert.deepEqual(
      files.map((f) => [
        f.filename,
        f.version,
        f.requiresPython,
        f.yanked,
        f.coreMetadata !== undefined,
      ]),
      [
        ['my_package_x-1.0-py3-none-any.whl', '1.0', '>=3.8', false, true],
        ['my_package_x-1.0.tar.gz', '1.0', '>=3.8', false, false],
      ],
    );
    for (const f of files) {
      assert.match(f.uploadTime ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      assert.match(f.sha256, /^[0-9a-f]{64}$/);
    }
    assert.equal(await fx.hosted.hasProject(fx.repo, 'my-package-x'), true);
    assert.equal(await fx.hosted.hasProject(fx.repo, 'other'), false);
    assert.equal(await fx.hosted.projectPage(fx.repo, 'other'), undefined);
    assert.equal(await fx.hosted.openFile(fx.repo, 'my-package-x', 'nope-1.0.tar.gz'), undefined);
    assert.equal(
      await fx.hosted.openCoreMetadata(fx.repo, 'my-package-x', 'my_package_x-1.0.tar.gz'),
      undefined,
      'no PEP 658 file for an sdist',
    );
  });

  test('1.0 and 1.0.0 (and .post0 / -post0) are one release; a local version is refused', async () => {
    const a = makeWheel('samerel', '1.0');
    const b = makeSdist('samerel', '1.0.0');
    assert.equal((await upload(fx, twineFields('samerel', '1.0', a), a)).version, '1.0');
    const rb = await upload(fx, twineFields('samerel', '1.0.0', b), b);
    assert.equal(rb.version, '1.0', 'joins the release as first spelled');
    const c = makeWheel('samerel', '2.0.post0');
    const d = makeSdist('samerel', '2.0-post0');
    await upload(fx, twineFields('samerel', '2.0.post0', c), c);
    await upload(fx, twineFields('samerel', '2.0-post0', d), d);
    const stored = await fx.hosted.store.project('pypi-hosted', 'samerel');
    assert.deepEqual(stored?.releases.map((r) => r.version).sort(), ['1.0', '2.0.post0']);
    const json = await fx.hosted.json(
      fx.repo,
      'samerel',
      undefined,
      (p, f) => `../../simple/${p}/${f}`,
    );
    assert.deepEqual(Object.keys(json?.releases ?? {}), ['1.0', '2.0.post0']);
    assert.equal(json?.releases?.['1.0']?.length, 2);

    const local = makeWheel('samerel', '3.0+local');
    await refused(
      fx,
      upload(fx, twineFields('samerel', '3.0+local', local), local),
      400,
      /local version/i,
    );
  });

  test('requires_python must be a PEP 440 specifier set', async () => {
    const wheel = makeWheel('reqpy', '1.0');
    const bad = twineFields('reqpy', '1.0', wheel, { requires_python: '>=3" onmouseover="x' });
    await refused(fx, upload(fx, bad, wheel), 400, /not a valid PEP 440 specifier set/);
    const good = twineFields('reqpy', '1.0', wheel, { requires_python: '<4,>=3.7' });
    assert.equal((await upload(fx, good, wheel)).version, '1.0');
  });

  test('a duplicate filename with other bytes → 400 "File already exists"; identical bytes succeed as a no-op', async () => {
    const first = makeSdist('dup', '1.0');
    await upload(fx, twineFields('dup', '1.0', first), first);
    const again = await upload(fx, twineFields('dup', '1.0', first), first);
    assert.equal(again.duplicate, true);
    // Same name, different bytes (an extra file in the archive).
    const other = { filename: first.filename, data: Buffer.concat([first.data, Buffer.alloc(1)]) };
    await refused(
      fx,
      upload(fx, twineFields('dup', '1.0', other), other),
      400,
      /^File already exists \('dup-1\.0\.tar\.gz'\)/,
    );
  });

  test('concurrent uploads of one filename: one wins, the other is "File already exists"', async () => {
    const a = makeWheel('race', '1.0');
    const b = makeWheel('race', '1.0', { extra: [{ name: 'race/x.py', data: Buffer.from('x') }] });
    const results = await Promise.allSettled([
      upload(fx, twineFields('race', '1.0', a), a),
      upload(fx, twineFields('race', '1.0', b), b),
    ]);
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
    const rejected = results.find((r) => r.status === 'rejected');
    assert.match(String((rejected as PromiseRejectedResult).reason), /File already exists/);
    assert.equal((await fx.hosted.projectPage(fx.repo, 'race'))?.files.length, 1);
  });
});

describe('pypi hosted: bad input is a clear 4xx and leaves nothing behind', () => {
  let fx: HostedFixture;
  before(async () => {
    fx = await hostedFixture(256 * 1024);
  });
  after(async () => {
    await fx.close();
  });

  test('traversal and unparsable filenames', async () => {
    const sdist = makeSdist('evil', '1.0');
    for (const filename of [
      '../../evil-1.0.tar.gz',
      '..\\evil-1.0.tar.gz',
      '/etc/evil-1.0.tar.gz',
    ]) {
      await refused(
        fx,
        upload(fx, twineFields('evil', '1.0', sdist), { filename, data: sdist.data }),
        400,
        /Invalid filename/,
      );
    }
    for (const filename of [
      'evil.tar.gz',
      'evil-1.0.exe',
      'evil-notaversion!.tar.gz',
      'evil-1.0-py3.whl',
    ]) {
      await refused(
        fx,
        upload(fx, twineFields('evil', '1.0', sdist), { filename, data: sdist.data }),
        400,
        /invalid distribution filename/,
      );
    }
  });

  test('name and version mismatches, bad filetype, bad name or version fields', async () => {
    const sdist = makeSdist('alpha', '1.0');
    await refused(
      fx,
      upload(fx, twineFields('beta', '1.0', sdist), sdist),
      400,
      /names project alpha/,
    );
    await refused(
      fx,
      upload(fx, twineFields('alpha', '2.0', sdist), sdist),
      400,
      /Version in filename should be "2\.0", not "1\.0"/,
    );
    await refused(
      fx,
      upload(fx, twineFields('alpha', '1.0', sdist, { filetype: 'bdist_wheel' }), sdist),
      400,
      /Invalid filetype bdist_wheel/,
    );
    await refused(
      fx,
      upload(fx, twineFields('alpha', '1.0', sdist, { filetype: 'bdist_egg' }), sdist),
      400,
      /Unknown type of file/,
    );
    await refused(
      fx,
      upload(fx, twineFields('-bad-', '1.0', sdist), sdist),
      400,
      /Invalid value for name/,
    );
    await refused(
      fx,
      upload(fx, twineFields('alpha', 'one', sdist), sdist),
      400,
      /not a PEP 440 version/,
    );
    await refused(
      fx,
      upload(fx, twineFields('alpha', '1.0', sdist, { version: undefined }), sdist),
      400,
      /version: This field is required/,
    );
    await refused(
      fx,
      upload(fx, twineFields('alpha', '1.0', sdist, { ':action': 'submit' }), sdist),
      400,
      /Unknown :action/,
    );
    await refused(
      fx,
      upload(fx, twineFields('alpha', '1.0', sdist, { protocol_version: '2' }), sdist),
      400,
      /protocol_version/,
    );
    await refused(fx, upload(fx, twineFields('alpha', '1.0', sdist), null), 400, /content/);
    // A wheel whose METADATA names another project or version.
    const liar = makeWheel('alpha', '1.0', { metadata: coreMetadata('beta', '1.0') });
    await refused(
      fx,
      upload(fx, twineFields('alpha', '1.0', liar), liar),
      400,
      /METADATA names project "beta"/,
    );
    const liar2 = makeWheel('alpha', '1.0', { metadata: coreMetadata('alpha', '9.9') });
    await refused(
      fx,
      upload(fx, twineFields('alpha', '1.0', liar2), liar2),
      400,
      /METADATA has version "9\.9"/,
    );
    // An "sdist" that is not gzip.
    const fake = { filename: 'alpha-1.0.tar.gz', data: Buffer.from('not a tarball') };
    await refused(fx, upload(fx, twineFields('alpha', '1.0', fake), fake), 400, /invalid sdist/);
  });

  test('digest mismatch on each of sha256, md5, blake2_256; no digest at all', async () => {
    const sdist = makeSdist('gamma', '1.0');
    const zero64 = '0'.repeat(64);
    for (const field of ['sha256_digest', 'md5_digest', 'blake2_256_digest']) {
      await refused(
        fx,
        upload(
          fx,
          twineFields('gamma', '1.0', sdist, {
            [field]: field === 'md5_digest' ? '0'.repeat(32) : zero64,
          }),
          sdist,
        ),
        400,
        /digest mismatch/,
      );
    }
    await refused(
      fx,
      upload(
        fx,
        twineFields('gamma', '1.0', sdist, {
          sha256_digest: undefined,
          md5_digest: undefined,
          blake2_256_digest: undefined,
        }),
        sdist,
      ),
      400,
      /at least one message digest/,
    );
    // Digests compared case-insensitively; one digest alone suffices.
    const ok = await upload(
      fx,
      twineFields('gamma', '1.0', sdist, {
        sha256_digest: digestsOf(sdist.data).sha256.toUpperCase(),
        md5_digest: undefined,
        blake2_256_digest: undefined,
      }),
      sdist,
    );
    assert.equal(ok.filename, 'gamma-1.0.tar.gz');
  });

  test('a truncated multipart body and a non-multipart body', async () => {
    const wheel = makeWheel('delta', '1.0');
    const body = multipartBody(twineFields('delta', '1.0', wheel), wheel);
    for (const cut of [body.length - 10, Math.floor(body.length / 2), 40]) {
      await refused(
        fx,
        fx.hosted.upload(fx.repo, 'alice', MULTIPART, chunked(body.subarray(0, cut))),
        400,
        /truncated or malformed multipart/,
      );
    }
    await refused(
      fx,
      fx.hosted.upload(fx.repo, 'alice', 'application/json', chunked(Buffer.from('{}'))),
      415,
      /multipart\/form-data/,
    );
    await refused(
      fx,
      fx.hosted.upload(fx.repo, 'alice', 'multipart/form-data; nothing=here', chunked(body)),
      400,
      /multipart/,
    );
    await refused(
      fx,
      fx.hosted.upload(fx.repo, 'alice', 'multipart/form-data', chunked(body)),
      400,
      /invalid multipart\/form-data request/,
    );
    const empty = { filename: 'delta-1.0.tar.gz', data: Buffer.alloc(0) };
    await refused(fx, upload(fx, twineFields('delta', '1.0', empty), empty), 400, /invalid sdist/);
    const emptyWheel = { filename: 'delta-1.0-py3-none-any.whl', data: Buffer.alloc(0) };
    await refused(
      fx,
      upload(fx, twineFields('delta', '1.0', emptyWheel), emptyWheel),
      400,
      /invalid wheel/,
    );
    await refused(
      fx,
      fx.hosted.upload(
        fx.repo,
        'alice',
        `multipart/form-data; boundary=${BOUNDARY}x`,
        chunked(body),
      ),
      400,
      /truncated or malformed multipart/,
    );
  });

  test('a wheel without METADATA, a zip bomb METADATA, a lying size and not-a-zip', async () => {
    const none = makeWheel('eps', '1.0', { metadata: null });
    await refused(
      fx,
      upload(fx, twineFields('eps', '1.0', none), none),
      400,
      /invalid wheel: no eps-1\.0\.dist-info\/METADATA/,
    );
    // 32 MiB of METADATA deflates to ~32 KiB: over the 16 MiB METADATA limit.
    const bombText = coreMetadata('eps', '1.0') + ' '.repeat(32 * 1024 * 1024);
    const bomb = makeWheel('eps', '1.0', { metadata: bombText });
    assert.ok(bomb.data.length < 256 * 1024, 'the bomb itself is small');
    await refused(fx, upload(fx, twineFields('eps', '1.0', bomb), bomb), 400, /invalid wheel/);
    // A METADATA that inflates past the size its headers claim.
    const liar = makeWheel('eps', '1.0', {
      metadata: null,
      extra: [
        {
          name: 'eps-1.0.dist-info/METADATA',
          data: Buffer.from(coreMetadata('eps', '1.0') + 'x'.repeat(100_000)),
          declaredSize: 100,
        },
      ],
    });
    await refused(fx, upload(fx, twineFields('eps', '1.0', liar), liar), 400, /invalid wheel/);
    const junk = {
      filename: 'eps-1.0-py3-none-any.whl',
      data: Buffer.from('PK not really a zip'.repeat(10)),
    };
    await refused(fx, upload(fx, twineFields('eps', '1.0', junk), junk), 400, /invalid wheel/);
    assert.equal(
      await fx.hosted.hasProject(fx.repo, 'eps'),
      false,
      'a refused upload claims no name',
    );
  });

  test('truncated or corrupt archives (sdist .tar.gz/.zip, wheel) → 400, nothing stored', async () => {
    const sdist = makeSdist('theta', '1.0');
    const tar = gunzipSync(sdist.data);
    const wheel = makeWheel('theta', '1.0', {
      extra: [{ name: 'theta/data.txt', data: Buffer.from('payload '.repeat(2000)) }],
    });
    // The first entry's deflated data, corrupted (METADATA and the central directory intact).
    const corruptWheel = Buffer.from(wheel.data).fill(0xff, 60, 70);
    const zipSdist = makeZip([
      { name: 'theta-1.0/PKG-INFO', data: Buffer.from(coreMetadata('theta', '1.0')) },
      { name: 'theta-1.0/setup.py', data: Buffer.from('x = 1\n'.repeat(500)) },
    ]);
    const bombTar = Buffer.concat([
      Buffer.from(tar.subarray(0, 512)),
      Buffer.alloc(70 * 1024 * 1024),
    ]);
    const cases: [string, File, RegExp][] = [
      [
        'truncated .tar.gz',
        { filename: 'theta-1.0.tar.gz', data: sdist.data.subarray(0, sdist.data.length - 12) },
        /invalid sdist: theta-1\.0\.tar\.gz is not a readable \.tar\.gz/,
      ],
      [
        'gzip of something that is not a tar',
        { filename: 'theta-1.0.tar.gz', data: gzipSync(Buffer.from('not a tar '.repeat(100))) },
        /invalid sdist/,
      ],
      [
        'an empty tar',
        { filename: 'theta-1.0.tar.gz', data: gzipSync(Buffer.alloc(1024)) },
        /invalid sdist: theta-1\.0\.tar\.gz is an empty archive/,
      ],
      [
        'a tar cut mid-entry (valid gzip)',
        { filename: 'theta-1.0.tar.gz', data: gzipSync(tar.subarray(0, 700)) },
        /invalid sdist/,
      ],
      [
        'a .tar.gz bomb (70 MiB of zeros)',
        { filename: 'theta-1.0.tar.gz', data: gzipSync(bombTar, { level: 9 }) },
        /compression ratio of 50/,
      ],
      [
        'a zip sdist cut short',
        { filename: 'theta-1.0.zip', data: zipSdist.subarray(0, zipSdist.length - 30) },
        /invalid sdist: theta-1\.0\.zip is not a readable zip/,
      ],
      [
        'a zip sdist with corrupt data',
        { filename: 'theta-1.0.zip', data: Buffer.from(zipSdist).fill(0x00, 50, 80) },
        /invalid sdist/,
      ],
      [
        'a wheel whose first entry is corrupt',
        { filename: wheel.filename, data: corruptWheel },
        /invalid wheel/,
      ],
    ];
    for (const [what, file, pattern] of cases) {
      assert.ok(file.data.length < 256 * 1024, `${what}: under the fixture's upload limit`);
      await refused(fx, upload(fx, twineFields('theta', '1.0', file), file), 400, pattern).catch(
        (err: unknown) => {
          throw new Error(`${what}: ${String(err)}`);
        },
      );
    }
    assert.equal(await fx.hosted.hasProject(fx.repo, 'theta'), false);
    // The good ones still go in (the .zip sdist in a release of its own: one sdist per release).
    for (const [version, file] of [
      ['1.0', sdist],
      ['1.1', { filename: 'theta-1.1.zip', data: zipSdist }],
      ['1.0', wheel],
    ] as const) {
      const ok = await upload(fx, twineFields('theta', version, file), file);
      assert.equal(ok.filename, file.filename);
    }
  });

  test('an upload over max_upload_mb → 413, while streaming', async () => {
    const data = Buffer.concat([makeSdist('huge', '1.0').data, Buffer.alloc(300 * 1024, 1)]);
    const file = { filename: 'huge-1.0.tar.gz', data };
    await refused(fx, upload(fx, twineFields('huge', '1.0', file), file), 413, /File too large/);
  });

  test('too many fields and an oversized field', async () => {
    const sdist = makeSdist('zeta', '1.0');
    const many = twineFields('zeta', '1.0', sdist, {
      classifiers: Array.from({ length: 1200 }, (_, i) => `C :: ${i}`),
    });
    await refused(fx, upload(fx, many, sdist), 400, /more than 1000 form fields/);
    const long = twineFields('zeta', '1.0', sdist, {
      description: 'd'.repeat(4 * 1024 * 1024 + 1),
    });
    await refused(fx, upload(fx, long, sdist), 400, /form field description is longer/);
  });

  test('uploads go to hosted repositories only', async () => {
    const sdist = makeSdist('theta', '1.0');
    const group = { ...fx.repo, kind: 'group' as const, name: 'pypi' };
    await assert.rejects(
      fx.hosted.upload(
        group,
        'alice',
        MULTIPART,
        chunked(multipartBody(twineFields('theta', '1.0', sdist), sdist)),
      ),
      /group repository/,
    );
  });
});

describe('pypi hosted: yank, unyank, delete and the JSON API', () => {
  let fx: HostedFixture;
  const url = (project: string, filename: string) =>
    `https://nora.invalid/simple/${project}/${filename}`;
  before(async () => {
    fx = await hostedFixture();
    for (const v of ['1.0', '1.1', '2.0rc1']) {
      const w = makeWheel('Omega_Pkg', v);
      const s = makeSdist('Omega_Pkg', v);
      await upload(fx, twineFields('Omega_Pkg', v, w), w);
      await upload(fx, twineFields('Omega_Pkg', v, s), s);
    }
  });
  after(async () => {
    await fx.close();
  });

  test('project JSON: info of the latest final release, releases, urls with digests', async () => {
    const json = await fx.hosted.json(fx.repo, 'omega-pkg', undefined, url);
    assert.ok(json);
    assert.equal(json.info['name'], 'Omega_Pkg');
    assert.equal(json.info['version'], '1.1', 'a pre-release is not the latest');
    assert.equal(json.info['summary'], 'a test project');
    assert.equal(json.info['requires_python'], '>=3.8');
    assert.deepEqual(json.info['classifiers'], [
      'Programming Language :: Python :: 3',
      'License :: OSI Approved :: MIT License',
    ]);
    assert.deepEqual(json.info['project_urls'], {
      Homepage: 'https://example.invalid/home',
      Source: 'https://example.invalid/src',
    });
    assert.deepEqual(json.info['requires_dist'], ['requests>=2', 'idna; extra == "x"']);
    assert.equal(json.info['yanked'], false);
    assert.deepEqual(Object.keys(json.releases ?? {}), ['1.0', '1.1', '2.0rc1']);
    assert.deepEqual(
      json.urls.map((u) => u.filename),
      ['omega_pkg-1.1-py3-none-any.whl', 'omega_pkg-1.1.tar.gz'],
    );
    const wheel = json.urls[0];
    assert.ok(wheel);
    const bytes = await buffer(
      await (await fx.hosted.openFile(fx.repo, 'omega-pkg', wheel.filename))!.open(),
    );
    assert.deepEqual(wheel.digests, {
      md5: createHash('md5').update(bytes).digest('hex'),
      sha256: createHash('sha256').update(bytes).digest('hex'),
      blake2b_256: bytesToHex(blake2b(bytes, { dkLen: 32 })),
    });
    assert.equal(wheel.packagetype, 'bdist_wheel');
    assert.equal(wheel.python_version, 'py3');
    assert.equal(wheel.size, bytes.length);
    assert.equal(wheel.url, `https://nora.invalid/simple/omega-pkg/${wheel.filename}`);
    assert.match(wheel.upload_time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/);
    assert.match(wheel.upload_time_iso_8601, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    assert.equal(wheel.yanked, false);
    assert.equal(wheel.yanked_reason, null);
    assert.equal(json.urls.at(1)?.packagetype, 'sdist');
    assert.equal(json.urls.at(1)?.python_version, 'source');
  });

  test('project_urls labels that are Object.prototype members stay labels', async () => {
    const w = makeWheel('proto-urls', '1.0');
    await upload(
      fx,
      twineFields('proto-urls', '1.0', w, {
        project_urls: [
          '__proto__, https://example.invalid/p',
          'constructor, https://example.invalid/c',
        ],
      }),
      w,
    );
    const json = await fx.hosted.json(fx.repo, 'proto-urls', undefined, url);
    const urls = json?.info['project_urls'] as Record<string, string>;
    assert.deepEqual(Object.keys(urls), ['__proto__', 'constructor']);
    assert.match(JSON.stringify(urls), /"__proto__":"https:\/\/example\.invalid\/p"/);
  });

  test('version JSON in any PEP 440-equal spelling; unknown → undefined', async () => {
    const json = await fx.hosted.json(fx.repo, 'omega-pkg', '1.0.0', url);
    assert.ok(json);
    assert.equal(json.info['version'], '1.0');
    assert.equal(json.urls.length, 2);
    assert.equal(json.releases, undefined);
    assert.equal(await fx.hosted.json(fx.repo, 'omega-pkg', '9.0', url), undefined);
    assert.equal(await fx.hosted.json(fx.repo, 'nothing', undefined, url), undefined);
  });

  test('yank with a reason, then unyank: page, JSON and latest version follow', async () => {
    const yanked = await fx.hosted.yank(fx.repo, 'Omega.Pkg', '1.1.0', 'broken build');
    assert.deepEqual(yanked, {
      project: 'omega-pkg',
      version: '1.1',
      yanked: true,
      yankedReason: 'broken build',
    });
    const page = await fx.hosted.projectPage(fx.repo, 'omega-pkg');
    for (const f of page?.files ?? []) {
      assert.equal(f.yanked, f.version === '1.1' ? 'broken build' : false, f.filename);
    }
    let json = await fx.hosted.json(fx.repo, 'omega-pkg', undefined, url);
    assert.equal(json?.info['version'], '1.0', 'the latest non-yanked final release');
    const v11 = await fx.hosted.json(fx.repo, 'omega-pkg', '1.1', url);
    assert.ok(v11);
    assert.equal(v11.info['yanked'], true);
    assert.equal(v11.info['yanked_reason'], 'broken build');
    assert.equal(v11.urls.at(0)?.yanked, true);
    assert.equal(v11.urls.at(0)?.yanked_reason, 'broken build');

    const noReason = await fx.hosted.yank(fx.repo, 'omega-pkg', '1.0');
    assert.equal(noReason.yankedReason, '');
    assert.equal(
      (await fx.hosted.projectPage(fx.repo, 'omega-pkg'))?.files.find((f) => f.version === '1.0')
        ?.yanked,
      '',
    );
    json = await fx.hosted.json(fx.repo, 'omega-pkg', undefined, url);
    assert.equal(json?.info['version'], '2.0rc1', 'only a pre-release is left un-yanked');

    await fx.hosted.unyank(fx.repo, 'omega-pkg', '1.1');
    await fx.hosted.unyank(fx.repo, 'omega-pkg', '1.0');
    json = await fx.hosted.json(fx.repo, 'omega-pkg', undefined, url);
    assert.equal(json?.info['version'], '1.1');
    assert.ok(
      (await fx.hosted.projectPage(fx.repo, 'omega-pkg'))?.files.every((f) => f.yanked === false),
    );

    await assert.rejects(
      fx.hosted.yank(fx.repo, 'omega-pkg', '7.0'),
      (e: RegistryError) => e.status === 404,
    );
    await assert.rejects(
      fx.hosted.yank(fx.repo, 'omega-pkg', 'bogus!'),
      (e: RegistryError) => e.status === 400,
    );
    await assert.rejects(
      fx.hosted.unyank(fx.repo, 'nothing', '1.0'),
      (e: RegistryError) => e.status === 404,
    );
  });

  test('a file of a yanked release uploaded later is yanked too', async () => {
    await fx.hosted.yank(fx.repo, 'omega-pkg', '2.0rc1', 'pre');
    const extra = makeWheel('Omega_Pkg', '2.0rc1', {
      filename: 'omega_pkg-2.0rc1-py2.py3-none-any.whl',
    });
    await upload(fx, twineFields('Omega_Pkg', '2.0rc1', extra), extra);
    const file = (await fx.hosted.projectPage(fx.repo, 'omega-pkg'))?.files.find(
      (f) => f.filename === extra.filename,
    );
    assert.equal(file?.yanked, 'pre');
    await fx.hosted.unyank(fx.repo, 'omega-pkg', '2.0rc1');
  });

  test('delete a file, then a release; the project stays claimed when empty', async () => {
    await fx.hosted.deleteFile(fx.repo, 'omega-pkg', 'omega_pkg-1.0.tar.gz');
    let page = await fx.hosted.projectPage(fx.repo, 'omega-pkg');
    assert.ok(!page?.files.some((f) => f.filename === 'omega_pkg-1.0.tar.gz'));
    assert.equal(await fx.hosted.openFile(fx.repo, 'omega-pkg', 'omega_pkg-1.0.tar.gz'), undefined);
    await assert.rejects(
      fx.hosted.deleteFile(fx.repo, 'omega-pkg', 'omega_pkg-1.0.tar.gz'),
      (e: RegistryError) => e.status === 404,
    );
    // The last file of 1.0 takes its release with it.
    await fx.hosted.deleteFile(fx.repo, 'omega-pkg', 'omega_pkg-1.0-py3-none-any.whl');
    assert.equal(await fx.hosted.json(fx.repo, 'omega-pkg', '1.0', url), undefined);

    const deleted = await fx.hosted.deleteRelease(fx.repo, 'omega-pkg', '1.1');
    assert.deepEqual(deleted.sort(), ['omega_pkg-1.1-py3-none-any.whl', 'omega_pkg-1.1.tar.gz']);
    await assert.rejects(
      fx.hosted.deleteRelease(fx.repo, 'omega-pkg', '1.1'),
      (e: RegistryError) => e.status === 404,
    );
    page = await fx.hosted.projectPage(fx.repo, 'omega-pkg');
    assert.deepEqual(page?.files.map((f) => f.version).sort(), ['2.0rc1', '2.0rc1', '2.0rc1']);
    assert.equal(
      (await fx.hosted.json(fx.repo, 'omega-pkg', undefined, url))?.info['version'],
      '2.0rc1',
    );

    await fx.hosted.deleteRelease(fx.repo, 'omega-pkg', '2.0rc1');
    assert.equal(await fx.hosted.projectPage(fx.repo, 'omega-pkg'), undefined);
    assert.equal(await fx.hosted.json(fx.repo, 'omega-pkg', undefined, url), undefined);
    assert.ok(!(await fx.hosted.projectNames(fx.repo)).includes('omega-pkg'));
    assert.equal(
      await fx.hosted.hasProject(fx.repo, 'omega-pkg'),
      true,
      'ever hosted: still guarded',
    );

    // A deleted filename is never taken again (other bytes under an old name would fool
    // lockfiles and caches), even with identical bytes; a new version is fine.
    const again = makeSdist('Omega_Pkg', '1.1');
    await assert.rejects(
      upload(fx, twineFields('Omega_Pkg', '1.1', again), again),
      (e: RegistryError) => e.status === 400 && /already been used/.test(e.message),
    );
    const next = makeSdist('Omega_Pkg', '1.2');
    const result = await upload(fx, twineFields('Omega_Pkg', '1.2', next), next);
    assert.equal(result.duplicate, false);
    // The page read above (absent) is not kept past the upload.
    assert.deepEqual(
      (await fx.hosted.projectPage(fx.repo, 'omega-pkg'))?.files.map((f) => f.filename),
      [next.filename],
    );
  });
});

describe('pypi hosted: per-project authorization during upload', () => {
  test('authorize is called with the normalised project; a refusal stores nothing, early or late', async () => {
    const fx = await hostedFixture();
    try {
      const asked: string[] = [];
      const deny = (project: string) => {
        asked.push(project);
        if (project === 'secret-pkg') throw new RegistryError('DENIED', `no write on ${project}`);
      };
      const secret = makeSdist('Secret_Pkg', '1.0');
      for (const fileFirst of [false, true]) {
        const before = await fx.fileRows();
        await assert.rejects(
          fx.hosted.upload(
            fx.repo,
            'bob',
            MULTIPART,
            chunked(multipartBody(twineFields('Secret_Pkg', '1.0', secret), secret, { fileFirst })),
            deny,
          ),
          (e: RegistryError) => e.status === 403 && /no write on secret-pkg/.test(e.message),
        );
        assert.equal(await fx.fileRows(), before);
        assert.deepEqual(await fx.spoolFiles(), []);
      }
      const open = makeSdist('open', '1.0');
      await fx.hosted.upload(
        fx.repo,
        'bob',
        MULTIPART,
        chunked(multipartBody(twineFields('open', '1.0', open), open)),
        deny,
      );
      assert.ok(asked.includes('secret-pkg') && asked.includes('open'));
      assert.equal(await fx.hosted.hasProject(fx.repo, 'secret-pkg'), false);
    } finally {
      await fx.close();
    }
  });
});
