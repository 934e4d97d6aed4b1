/**
 * A rule `keep_last = N` applied to one hosted repository through a format's retention adapter
 * (src/retention/types.ts) of a listening test server: versions grouped by name, newest first by
 * `storedAt`, the ones past the first N deleted through the adapter. The e2e tests of the PyPI,
 * Maven, Cargo and Go adapters use it to check what the real clients see afterwards; the rule
 * engine itself (planner, config, CLI) has its own tests.
 */
import assert from 'node:assert/strict';
import type { FormatName } from '../../src/config/schema.ts';
import type { RetentionVersion } from '../../src/retention/types.ts';
import type { TestServer } from './server.ts';

export interface KeepLastResult {
  /** `name@version` of the versions deleted, sorted. */
  readonly deleted: readonly string[];
  /** `name@version` of the versions kept, sorted. */
  readonly kept: readonly string[];
  /** Bytes the adapter reported for the deleted versions. */
  readonly bytes: number;
  /** What `versions()` listed before the deletes. */
  readonly listed: readonly RetentionVersion[];
}

/** The adapter `format` provided to `server`'s app (assertion failure when none). */
export function adapterOf(server: TestServer, format: FormatName) {
  const adapter = server.app.context.retention.adapter(format);
  assert.ok(adapter, `format ${format} provided no retention adapter`);
  return adapter;
}

/** Applies `keep_last = keep` to every name of the hosted repository `repoName` of `format`. */
export async function keepLast(
  server: TestServer,
  format: FormatName,
  repoName: string,
  keep: number,
): Promise<KeepLastResult> {
  const adapter = adapterOf(server, format);
  const repo = server.app.context.repositories.get(repoName);
  assert.ok(repo, `no repository ${repoName}`);
  const listed = await adapter.versions(repo);
  const byName = new Map<string, RetentionVersion[]>();
  for (const v of listed) byName.set(v.name, [...(byName.get(v.name) ?? []), v]);
  const deleted: string[] = [];
  const kept: string[] = [];
  let bytes = 0;
  for (const versions of byName.values()) {
    versions.sort((a, b) => b.storedAt - a.storedAt);
    for (const [i, v] of versions.entries()) {
      if (i < keep) {
        kept.push(`${v.name}@${v.version}`);
        continue;
      }
      const done = await adapter.delete(repo, v);
      assert.equal(done.deleted, true, `${v.name}@${v.version} was not deleted`);
      deleted.push(`${v.name}@${v.version}`);
      bytes += done.bytes;
    }
  }
  return { deleted: deleted.sort(), kept: kept.sort(), bytes, listed };
}
