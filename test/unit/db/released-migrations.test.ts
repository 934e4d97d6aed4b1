/**
 * Migration names only ever append: an installation upgraded from a released build has recorded
 * the released names, and db/migrate.ts refuses a new name that sorts before one already run
 * ("database migrations out of order"), so a new migration named before the newest released one
 * would stop every upgraded server at start. RELEASED is the set of the last landed build
 * (cc5a4e4, 2026-12-06) plus stop 52's two, which land with stop 53 (stop 52's CI failed on a
 * flaky test); extend it with each landing's new names.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { allMigrations } from '../../../src/app.ts';
import { coreMigrations } from '../../../src/db/core-migrations.ts';

const RELEASED = [
  '0000_core_blobs',
  '0050_auth_users_tokens',
  '0051_auth_tokens_roles',
  '0052_auth_signing_keys',
  '0053_auth_users_suspended',
  '0100_oci_initial',
  '0101_oci_uploads_client',
  '0102_oci_blob_links_unreferenced',
  '0200_npm_packages',
  '0201_npm_proxy_index',
  '0202_npm_proxy_index_meta',
  '0300_proxy_entries',
  '0400_pypi_hosted',
  '0401_pypi_deleted_files',
  '0402_pypi_files_dist_key',
  '0500_maven_files',
  '0510_maven_proxy_files',
  '0600_cargo_hosted',
  '0601_cargo_user_ids',
  '0700_go_hosted',
  '0800_raw_files',
  '0850_helm_charts',
  '0851_helm_names',
  '0900_proxy_entries_modified_at',
  '0910_maven_deploy_memory',
  '0920_curation_first_seen',
  '0921_curation_first_seen_digest',
  '0922_curation_first_seen_at',
  '0925_core_installation',
  '0926_helm_proxy_charts',
  '0930_cargo_ui_cache',
  '0931_go_ui_cache',
  '0932_pypi_ui_cache',
  '0933_maven_ui_cache',
  '0934_helm_ui_cache',
  '0940_cargo_ui_cache_upkeep',
  '0941_go_ui_cache_upkeep',
  '0942_pypi_ui_cache_upkeep',
  '0943_maven_ui_cache_upkeep',
  '0944_helm_ui_cache_upkeep',
  '0945_helm_proxy_backfill_pending',
  '0946_helm_deleted_versions',
];

test('every migration of this build sorts after the newest released one (upgrades stay in order)', () => {
  const names = Object.keys({ ...coreMigrations, ...allMigrations() }).sort();
  assert.deepEqual(
    names.slice(0, RELEASED.length),
    RELEASED,
    'a released migration was renamed or removed',
  );
  const newest = RELEASED[RELEASED.length - 1] ?? '';
  for (const name of names.slice(RELEASED.length)) {
    assert.ok(name > newest, `${name} sorts before the released ${newest}`);
  }
});
