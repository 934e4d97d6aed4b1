/**
 * Trial 18 authx F5: a hosted release kept two files that installers take for one distribution
 * (`My_Pkg-1.0-py3-none-any.whl` and `my_pkg-1.0-py3-none-any.whl`; `ok-1.0`, `ok-01.0` and
 * `ok-1.0.0` wheels; two sdists of one release), and pip picked one by its own ordering, so an
 * upload made after a release changed what `pip install ok==1.0` installed. Now a release holds
 * one file per normalised distribution (PEP 503 name, PEP 440 version, wheel build and tags): a
 * second spelling is 400 "File already exists" naming the stored file, also when uploaded at
 * the same time; the same file again stays a 200 no-op. Files stored twice before the fix keep
 * serving after the migration.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, test } from 'node:test';
import { openDatabase } from '../../../src/db/database.ts';
import { pypiMigrations, type PypiTables } from '../../../src/formats/pypi/migrations.ts';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { MULTIPART, makeSdist, makeWheel, multipartBody, twineFields } from './fixtures.ts';

type Dist = { filename: string; data: Buffer };

async function upload(
  server: TestServer,
  name: string,
  version: string,
  file: Dist,
): Promise<{ status: number; text: string }> {
  const res = await fetch(`${server.url}/simple/`, {
    method: 'POST',
    headers: { 'content-type': MULTIPART },
    body: multipartBody(twineFields(name, version, file), file),
  });
  return { status: res.status, text: await res.text() };
}

/** A wheel of `name` `version` named `filename`, its bytes made distinct by `salt`. */
function wheel(name: string, version: string, filename: string, salt: string): Dist {
  return makeWheel(name, version, {
    filename,
    extra: [{ name: 'salt.txt', data: Buffer.from(salt) }],
  });
}

/** The filenames the simple page of `project` lists. */
async function listed(server: TestServer, project: string): Promise<string[]> {
  const page = await (await fetch(`${server.url}/simple/${project}/`)).text();
  return [...page.matchAll(/>([^<>]+\.(?:whl|tar\.gz|zip))<\/a>/g)].map((m) => m[1] ?? '');
}

describe('pypi hosted: one file per normalised distribution of a release', () => {
  test('another spelling of the project name in a wheel filename → 400 naming the stored file', async () => {
    await using server = await startTestServer({});
    const first = wheel('My_Pkg', '1.0', 'My_Pkg-1.0-py3-none-any.whl', 'one');
    const second = wheel('my_pkg', '1.0', 'my_pkg-1.0-py3-none-any.whl', 'two');
    assert.equal((await upload(server, 'My_Pkg', '1.0', first)).status, 200);
    const refused = await upload(server, 'my_pkg', '1.0', second);
    assert.equal(refused.status, 400, refused.text);
    assert.match(refused.text, /^File already exists \('My_Pkg-1\.0-py3-none-any\.whl'\)/);
    assert.match(refused.text, /my_pkg-1\.0-py3-none-any\.whl is the same distribution/);
    // The stored file again, byte for byte: still the idempotent 200.
    assert.equal((await upload(server, 'My_Pkg', '1.0', first)).status, 200);
    assert.deepEqual(await listed(server, 'my-pkg'), ['My_Pkg-1.0-py3-none-any.whl']);
  });

  test('PEP 440-equal versions (1.0, 01.0, 1.0.0) are one wheel; other tags or builds are others', async () => {
    await using server = await startTestServer({});
    const ok = (version: string, tags = 'py3-none-any', salt = version) =>
      wheel('ok', version, `ok-${version}-${tags}.whl`, salt);
    assert.equal((await upload(server, 'ok', '1.0', ok('1.0'))).status, 200);
    for (const version of ['01.0', '1.0.0']) {
      const res = await upload(server, 'ok', version, ok(version));
      assert.equal(res.status, 400, `${version}: ${res.text}`);
      assert.match(res.text, /^File already exists \('ok-1\.0-py3-none-any\.whl'\)/);
    }
    // Other tag triples and build tags are other distributions of the release…
    assert.equal(
      (await upload(server, 'ok', '1.0.0', ok('1.0.0', 'py2.py3-none-any'))).status,
      200,
    );
    assert.equal((await upload(server, 'ok', '1.0', ok('1.0', '1-py3-none-any'))).status, 200);
    // …but a tag set is a set and a build number a number.
    const reordered = await upload(server, 'ok', '1.0', ok('1.0', 'py3.py2-none-any', 'x'));
    assert.equal(reordered.status, 400, reordered.text);
    assert.match(reordered.text, /\('ok-1\.0\.0-py2\.py3-none-any\.whl'\)/);
    const build = await upload(server, 'ok', '1.0', ok('1.0', '01-py3-none-any', 'y'));
    assert.equal(build.status, 400, build.text);
    assert.match(build.text, /\('ok-1\.0-1-py3-none-any\.whl'\)/);
    // Another release is untouched.
    assert.equal((await upload(server, 'ok', '1.0.1', ok('1.0.1'))).status, 200);
    assert.deepEqual((await listed(server, 'ok')).sort(), [
      'ok-1.0-1-py3-none-any.whl',
      'ok-1.0-py3-none-any.whl',
      'ok-1.0.0-py2.py3-none-any.whl',
      'ok-1.0.1-py3-none-any.whl',
    ]);
  });

  test('one sdist per release, whatever its name or suffix', async () => {
    await using server = await startTestServer({});
    const first = makeSdist('okthree', '2.0');
    assert.equal((await upload(server, 'okthree', '2.0', first)).status, 200);
    const other = makeSdist('okthree', '2.0.0');
    const zip = { filename: 'okthree-2.0.zip', data: makeWheel('okthree', '2.0').data };
    for (const [version, file] of [
      ['2.0.0', other],
      ['2.0', zip],
    ] as const) {
      const res = await upload(server, 'okthree', version, file);
      assert.equal(res.status, 400, `${file.filename}: ${res.text}`);
      assert.match(res.text, /^File already exists \('okthree-2\.0\.tar\.gz'\).*one sdist/);
    }
    // A wheel of the release is still welcome.
    assert.equal((await upload(server, 'okthree', '2.0', makeWheel('okthree', '2.0'))).status, 200);
    assert.deepEqual((await listed(server, 'okthree')).sort(), [
      'okthree-2.0-py3-none-any.whl',
      'okthree-2.0.tar.gz',
    ]);
  });

  test('eight spellings uploaded at once: one 200, seven "File already exists"', async () => {
    await using server = await startTestServer({});
    const spellings = ['1.0', '1.0.0', '01.0', '1.00', '1.0.0.0', '001.0', '1.000', '1.0.00'];
    const answers = await Promise.all(
      spellings.map((v) =>
        upload(server, 'race-dist', v, wheel('race-dist', v, `race_dist-${v}-py3-none-any.whl`, v)),
      ),
    );
    assert.equal(answers.filter((a) => a.status === 200).length, 1, JSON.stringify(answers));
    for (const a of answers.filter((x) => x.status !== 200)) {
      assert.equal(a.status, 400, a.text);
      assert.match(a.text, /^File already exists \('race_dist-/);
    }
    assert.equal((await listed(server, 'race-dist')).length, 1);
  });
});

describe('pypi migration 0402: files stored twice before the fix', () => {
  test('both rows stay (still served); the oldest takes the distribution key', async () => {
    await using dir = await tempDir('nora-pypi-0402-');
    const file = path.join(dir.path, 'nora.db');
    const before = Object.fromEntries(
      Object.entries(pypiMigrations).filter(([name]) => name < '0402'),
    );
    const old = await openDatabase({ file, migrations: before });
    const row = (filename: string, uploadTime: number) => ({
      repo: 'pypi-hosted',
      project: 'ok',
      filename,
      version_key: '1',
      version: filename.split('-')[1] ?? '',
      packagetype: 'bdist_wheel',
      python_version: 'py3',
      sha256: filename,
      md5: '',
      blake2_256: '',
      size: 1,
      blob: `sha256:${filename}`,
      requires_python: null,
      upload_time: uploadTime,
      metadata_blob: null,
      metadata_sha256: null,
      metadata_size: null,
      uploader: null,
    });
    await old
      .$extendTables<PypiTables>()
      .insertInto('pypi_files')
      .values([row('ok-1.0.0-py3-none-any.whl', 2), row('ok-1.0-py3-none-any.whl', 1)])
      .execute();
    await old.destroy();

    const db = await openDatabase({ file, migrations: pypiMigrations });
    try {
      const rows = await db
        .$extendTables<PypiTables>()
        .selectFrom('pypi_files')
        .select(['filename', 'dist_key'])
        .orderBy('filename')
        .execute();
      assert.deepEqual(
        rows.map((r) => ({ ...r })),
        [
          { filename: 'ok-1.0-py3-none-any.whl', dist_key: 'wheel -py3-none-any' },
          { filename: 'ok-1.0.0-py3-none-any.whl', dist_key: null },
        ],
      );
    } finally {
      await db.destroy();
    }
  });
});
