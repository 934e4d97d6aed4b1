/**
 * `mvn deploy` of a project sends the POM (and its checksums) before the jar. When that jar is
 * refused (no whole zip), MavenHosted withdraws the POM the same deploy stored just before, so
 * the version is not left listed in maven-metadata.xml with no jar (trial 23). The guards keep
 * everything when any is not met: another uploader's POM, a POM stored longer ago than
 * WITHDRAW_WINDOW_MS, a version directory holding an archive or a classified file, a POM of
 * packaging `pom`, an unknown uploader. MavenHosted over a real SQLite store and blob store, with
 * a clock the test drives.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { RegistryError } from '../../../src/core/errors.ts';
import { SqlBlobIndex } from '../../../src/db/blob-index.ts';
import { coreMigrations } from '../../../src/db/core-migrations.ts';
import { type Db, openDatabase } from '../../../src/db/database.ts';
import { fileCoordinate } from '../../../src/formats/maven/coordinates.ts';
import {
  type DeploySettings,
  MavenHosted,
  WITHDRAW_WINDOW_MS,
} from '../../../src/formats/maven/hosted.ts';
import { type MavenTables, mavenMigrations } from '../../../src/formats/maven/migrations.ts';
import { MavenStore } from '../../../src/formats/maven/store.ts';
import { compareMavenVersions } from '../../../src/formats/maven/version.ts';
import type { Repository } from '../../../src/repos/repository.ts';
import { BlobStore } from '../../../src/storage/blob-store.ts';
import { FsDriver } from '../../../src/storage/drivers/fs-driver.ts';
import { GuardedDriver } from '../../../src/storage/guarded-driver.ts';
import { removeDir } from '../../helpers/tmp.ts';
import { makeZip } from '../pypi/fixtures.ts';

const jar = makeZip([
  { name: 'META-INF/MANIFEST.MF', data: Buffer.from('Manifest-Version: 1.0\r\n\r\n') },
  { name: 'com/acme/W.class', data: randomBytes(8_000), store: true },
]);
const cut = jar.subarray(0, Math.floor(jar.length * 0.6));
const pom = (artifactId: string, version: string, packaging = 'jar') =>
  `<project><modelVersion>4.0.0</modelVersion><groupId>com.acme</groupId><artifactId>${artifactId}</artifactId><version>${version}</version><packaging>${packaging}</packaging></project>`;

const settings: DeploySettings = {
  versionPolicy: 'mixed',
  keepSnapshots: 0,
  immutableReleases: true,
  maxBytes: 10 * 1024 * 1024,
  checksumVerify: true,
};
const repo = { name: 'maven-hosted' } as Repository;
const ALICE = 'user alice';
const BOB = 'user bob';

describe('MavenHosted: a refused main archive withdraws what the same deploy stored just before', () => {
  let dir = '';
  let db: Db;
  let store: MavenStore;
  let hosted: MavenHosted;
  let now = 1_800_000_000_000;
  const logged: string[] = [];

  before(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'nora-maven-withdraw-'));
    db = await openDatabase({
      file: ':memory:',
      migrations: { ...coreMigrations, ...mavenMigrations },
    });
    const blobs = new BlobStore(new GuardedDriver(await FsDriver.open(dir)), new SqlBlobIndex(db));
    store = new MavenStore(db.$extendTables<MavenTables>());
    hosted = new MavenHosted({
      store,
      blobs,
      compareVersions: compareMavenVersions,
      now: () => now,
      log: {
        warn: (_fields: unknown, message: string) => logged.push(message),
      } as never,
    });
  });
  after(async () => {
    await db.destroy();
    await removeDir(dir);
  });

  // null: no uploader known (a default parameter would turn undefined into ALICE).
  const put = (file: string, body: string | Buffer, uploader: string | null = ALICE) => {
    const coordinate = fileCoordinate(`com/acme/${file}`.split('/'), `com/acme/${file}`);
    assert.ok(coordinate, file);
    return hosted.deploy(
      repo,
      coordinate,
      Readable.from([Buffer.from(body)]),
      settings,
      uploader ?? undefined,
    );
  };
  const refusal = async (file: string, body: Buffer, uploader: string | null = ALICE) => {
    const err = await put(file, body, uploader).then(
      () => assert.fail(`${file} was taken`),
      (e: unknown) => e,
    );
    assert.ok(err instanceof RegistryError && err.code === 'BAD_REQUEST', String(err));
    return err.message;
  };
  const paths = async (artifactId: string, version: string) =>
    (await store.versionFiles('maven-hosted', 'com.acme', artifactId, version))
      .map((r) => r.path)
      .sort();
  const listed = async (artifactId: string) =>
    (await store.versions('maven-hosted', 'com.acme', artifactId)).map((v) => v.version);

  test("mvn deploy's order: the POM, then a cut jar — the POM is withdrawn, the 400 says so, one log line", async () => {
    await put('lib/1.0/lib-1.0.pom', pom('lib', '1.0'));
    now += 3_000;
    const message = await refusal('lib/1.0/lib-1.0.jar', cut);
    assert.match(
      message,
      /^com\/acme\/lib\/1\.0\/lib-1\.0\.jar starts with PK but has no zip end record: .*; withdrawn with it, as this deploy stored them just before: com\/acme\/lib\/1\.0\/lib-1\.0\.pom \(1\.0 is not listed in maven-metadata\.xml; deploy it again with the whole \.jar\)$/,
    );
    assert.deepEqual(await paths('lib', '1.0'), []);
    assert.deepEqual(await listed('lib'), []);
    assert.equal(logged.length, 1);
    assert.match(logged[0] ?? '', /withdrew com\/acme\/lib\/1\.0\/lib-1\.0\.pom.*\(user alice\)/);
    // A rerun (the POM first again, then the whole jar) is taken: the refusal is not remembered.
    assert.equal((await put('lib/1.0/lib-1.0.pom', pom('lib', '1.0'))).created, true);
    assert.equal((await put('lib/1.0/lib-1.0.jar', jar)).created, true);
    assert.deepEqual(await listed('lib'), ['1.0']);
  });

  test("another uploader's POM is kept (and the refusal then refuses a following POM as before)", async () => {
    await put('other/1.0/other-1.0.pom', pom('other', '1.0'), BOB);
    const message = await refusal('other/1.0/other-1.0.jar', cut, ALICE);
    assert.doesNotMatch(message, /withdrawn/);
    assert.deepEqual(await paths('other', '1.0'), ['com/acme/other/1.0/other-1.0.pom']);
    assert.deepEqual(await listed('other'), ['1.0']);
  });

  test('anonymous clients are told apart by address', async () => {
    await put('anon/1.0/anon-1.0.pom', pom('anon', '1.0'), 'anonymous from 192.0.2.1');
    await refusal('anon/1.0/anon-1.0.jar', cut, 'anonymous from 192.0.2.2');
    assert.deepEqual(await listed('anon'), ['1.0']);
    await put('anon/1.1/anon-1.1.pom', pom('anon', '1.1'), 'anonymous from 192.0.2.1');
    await refusal('anon/1.1/anon-1.1.jar', cut, 'anonymous from 192.0.2.1');
    assert.deepEqual(await listed('anon'), ['1.0']);
  });

  test('a POM stored longer ago than the window is kept; one just inside it goes', async () => {
    await put('old/1.0/old-1.0.pom', pom('old', '1.0'));
    now += WITHDRAW_WINDOW_MS + 1;
    assert.doesNotMatch(await refusal('old/1.0/old-1.0.jar', cut), /withdrawn/);
    assert.deepEqual(await paths('old', '1.0'), ['com/acme/old/1.0/old-1.0.pom']);
    await put('old/1.1/old-1.1.pom', pom('old', '1.1'));
    now += WITHDRAW_WINDOW_MS;
    assert.match(await refusal('old/1.1/old-1.1.jar', cut), /withdrawn/);
    assert.deepEqual(await listed('old'), ['1.0']);
  });

  test('a version holding an archive or a classified file keeps everything', async () => {
    // A war stored, then a cut jar of the same version (nothing at the jar's path).
    await put('mixed/1.0/mixed-1.0.pom', pom('mixed', '1.0'));
    await put('mixed/1.0/mixed-1.0.war', jar);
    assert.doesNotMatch(await refusal('mixed/1.0/mixed-1.0.jar', cut), /withdrawn/);
    assert.equal((await paths('mixed', '1.0')).length, 2);
    // A sources jar stored before the main jar (same uploader, moments ago).
    await put('src/1.0/src-1.0.pom', pom('src', '1.0'));
    await put('src/1.0/src-1.0-sources.jar', jar);
    assert.doesNotMatch(await refusal('src/1.0/src-1.0.jar', cut), /withdrawn/);
    assert.deepEqual(await paths('src', '1.0'), [
      'com/acme/src/1.0/src-1.0-sources.jar',
      'com/acme/src/1.0/src-1.0.pom',
    ]);
  });

  test('a POM of packaging pom, an unknown uploader, a replaced POM: kept', async () => {
    await put('parent/1.0/parent-1.0.pom', pom('parent', '1.0', 'pom'));
    assert.doesNotMatch(await refusal('parent/1.0/parent-1.0.zip', cut), /withdrawn/);
    assert.deepEqual(await listed('parent'), ['1.0']);
    await put('nobody/1.0/nobody-1.0.pom', pom('nobody', '1.0'), null);
    assert.doesNotMatch(await refusal('nobody/1.0/nobody-1.0.jar', cut, null), /withdrawn/);
    assert.deepEqual(await listed('nobody'), ['1.0']);
    // A snapshot POM replaced by this deploy was published before it: kept.
    await put('snap/1.0-SNAPSHOT/snap-1.0-SNAPSHOT.pom', pom('snap', '1.0-SNAPSHOT'), BOB);
    await put('snap/1.0-SNAPSHOT/snap-1.0-SNAPSHOT.pom', pom('snap', '1.0-SNAPSHOT'));
    assert.doesNotMatch(await refusal('snap/1.0-SNAPSHOT/snap-1.0-SNAPSHOT.jar', cut), /withdrawn/);
    assert.deepEqual(await listed('snap'), ['1.0-SNAPSHOT']);
  });

  test('a timestamped snapshot build: its POM withdrawn when the version holds nothing else', async () => {
    const d = 'tsnap/2.0-SNAPSHOT';
    await put(`${d}/tsnap-2.0-20261205.101010-1.pom`, pom('tsnap', '2.0-SNAPSHOT'));
    assert.match(
      await refusal(`${d}/tsnap-2.0-20261205.101010-1.jar`, cut),
      /withdrawn .*\(2\.0-SNAPSHOT is not listed in maven-metadata\.xml; deploy it again with the whole \.jar\)$/,
    );
    assert.deepEqual(await listed('tsnap'), []);
  });

  test('a timestamped snapshot build after earlier builds: only its POM withdrawn, the last good build stays newest', async () => {
    const d = 'esnap/3.0-SNAPSHOT';
    // Build 1, whole (a day earlier: out of any window), then build 2's POM and its cut jar.
    await put(`${d}/esnap-3.0-20261204.101010-1.pom`, pom('esnap', '3.0-SNAPSHOT'));
    await put(`${d}/esnap-3.0-20261204.101010-1.jar`, jar);
    now += 24 * 60 * 60 * 1000;
    await put(`${d}/esnap-3.0-20261205.101010-2.pom`, pom('esnap', '3.0-SNAPSHOT'));
    now += 2_000;
    const message = await refusal(`${d}/esnap-3.0-20261205.101010-2.jar`, cut);
    assert.match(
      message,
      /; withdrawn with it, as this deploy stored them just before: com\/acme\/esnap\/3\.0-SNAPSHOT\/esnap-3\.0-20261205\.101010-2\.pom /,
    );
    // Not "3.0-SNAPSHOT is not listed": build 1 keeps it listed (trial 26 mirrorR F8).
    assert.match(
      message,
      /\.pom \(build 20261205\.101010-2 is not listed in maven-metadata\.xml: 3\.0-SNAPSHOT still resolves to build 20261204\.101010-1; deploy it again with the whole \.jar\)$/,
    );
    assert.deepEqual(await paths('esnap', '3.0-SNAPSHOT'), [
      `com/acme/${d}/esnap-3.0-20261204.101010-1.jar`,
      `com/acme/${d}/esnap-3.0-20261204.101010-1.pom`,
    ]);
    assert.deepEqual(await listed('esnap'), ['3.0-SNAPSHOT']);
    const metadata = await hosted.metadata(repo, `com/acme/${d}`);
    assert.ok(metadata);
    assert.deepEqual(metadata.snapshot, { timestamp: '20261204.101010', buildNumber: 1 });
    assert.deepEqual(
      metadata.snapshotVersions.map((v) => v.value),
      ['3.0-20261204.101010-1', '3.0-20261204.101010-1'],
    );
    // Build 2 again, whole (POM first, as mvn does): taken, and the newest.
    await put(`${d}/esnap-3.0-20261205.101010-2.pom`, pom('esnap', '3.0-SNAPSHOT'));
    assert.equal((await put(`${d}/esnap-3.0-20261205.101010-2.jar`, jar)).created, true);
    const again = await hosted.metadata(repo, `com/acme/${d}`);
    assert.deepEqual(again?.snapshot, { timestamp: '20261205.101010', buildNumber: 2 });
  });

  test("a snapshot build whose own files include an archive, or another uploader's POM, keeps everything", async () => {
    const d = 'ksnap/1.0-SNAPSHOT';
    await put(`${d}/ksnap-1.0-20261204.101010-1.pom`, pom('ksnap', '1.0-SNAPSHOT'));
    await put(`${d}/ksnap-1.0-20261204.101010-1.jar`, jar);
    await put(`${d}/ksnap-1.0-20261205.101010-2.pom`, pom('ksnap', '1.0-SNAPSHOT'), BOB);
    assert.doesNotMatch(await refusal(`${d}/ksnap-1.0-20261205.101010-2.jar`, cut), /withdrawn/);
    assert.equal((await paths('ksnap', '1.0-SNAPSHOT')).length, 3);
    await put(`${d}/ksnap-1.0-20261206.101010-3.pom`, pom('ksnap', '1.0-SNAPSHOT'));
    await put(`${d}/ksnap-1.0-20261206.101010-3-sources.jar`, jar);
    assert.doesNotMatch(await refusal(`${d}/ksnap-1.0-20261206.101010-3.jar`, cut), /withdrawn/);
    assert.equal((await paths('ksnap', '1.0-SNAPSHOT')).length, 5);
  });
});
