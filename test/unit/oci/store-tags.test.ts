/**
 * OciStore remembers tag lookups for the manifest-GET hot path: every write through the store
 * (tag moved by a push, tag deleted, manifest deleted, a failed write) must be seen by the next
 * lookup, and a lookup racing a write must not leave the old answer behind.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type Db, openDatabase } from '../../../src/db/database.ts';
import { ociMigrations, OciStore } from '../../../src/formats/oci/store.ts';

const manifest = (n: number) => ({
  digest: `sha256:${String(n).repeat(64).slice(0, 64)}`,
  mediaType: 'application/vnd.oci.image.manifest.v1+json',
  size: 100 + n,
  subject: undefined,
  artifactType: undefined,
  configMediaType: undefined,
  annotations: undefined,
});

describe('OciStore tag lookups', () => {
  let db: Db;
  let store: OciStore;

  before(async () => {
    db = await openDatabase({ file: ':memory:', migrations: ociMigrations });
    store = new OciStore(db);
  });
  after(async () => {
    await db.destroy();
  });

  test('a moved, deleted or re-pushed tag is seen at once', async () => {
    assert.equal(await store.manifestByTag('r', 'app', 'v1'), undefined);
    await store.putManifest('r', 'app', manifest(1), ['v1']);
    assert.equal((await store.manifestByTag('r', 'app', 'v1'))?.digest, manifest(1).digest);
    assert.equal((await store.manifestByTag('r', 'app', 'v1'))?.digest, manifest(1).digest);
    await store.putManifest('r', 'app', manifest(2), ['v1']);
    assert.equal((await store.manifestByTag('r', 'app', 'v1'))?.digest, manifest(2).digest);
    assert.equal(await store.deleteTag('r', 'app', 'v1'), true);
    assert.equal(await store.manifestByTag('r', 'app', 'v1'), undefined);
    await store.putManifest('r', 'app', manifest(2), ['v1', 'latest']);
    assert.equal((await store.manifestByTag('r', 'app', 'latest'))?.size, manifest(2).size);
    assert.equal(await store.deleteManifest('r', 'app', manifest(2).digest), true);
    assert.equal(await store.manifestByTag('r', 'app', 'v1'), undefined);
    assert.equal(await store.manifestByTag('r', 'app', 'latest'), undefined);
    // Other names and repositories are separate keys.
    await store.putManifest('r', 'app', manifest(3), ['v1']);
    assert.equal(await store.manifestByTag('r', 'other', 'v1'), undefined);
    assert.equal(await store.manifestByTag('s', 'app', 'v1'), undefined);
  });

  test('a lookup started before a write does not keep the old answer', async () => {
    await store.putManifest('r', 'race', manifest(4), ['v1']);
    const early = store.manifestByTag('r', 'race', 'v1');
    const move = store.putManifest('r', 'race', manifest(5), ['v1']);
    assert.equal((await early)?.digest, manifest(4).digest);
    await move;
    assert.equal((await store.manifestByTag('r', 'race', 'v1'))?.digest, manifest(5).digest);
  });

  test('a write that fails leaves lookups answering from the database', async () => {
    await store.putManifest('r', 'fail', manifest(6), ['v1']);
    assert.equal((await store.manifestByTag('r', 'fail', 'v1'))?.digest, manifest(6).digest);
    const broken = { ...manifest(7), size: Symbol('not storable') as unknown as number };
    await assert.rejects(store.putManifest('r', 'fail', broken, ['v1']));
    assert.equal((await store.manifestByTag('r', 'fail', 'v1'))?.digest, manifest(6).digest);
  });

  test('remembered lookups are bounded in bytes: 10 MB of long names stay within 4 MiB', async () => {
    // 12,000 lookups of ~400-character keys: ~10 MB at 2 bytes a char.
    const long = 'n'.repeat(200);
    for (let i = 0; i < 12_000; i++)
      await store.manifestByTag('r', `${long}/${i}`, `t${'x'.repeat(180)}`);
    assert.ok(store.tagCacheBytes <= 4 * 1024 * 1024, `${store.tagCacheBytes}`);
    assert.ok(store.tagCacheBytes > 1024 * 1024, 'lookups are still remembered');
  });
});
