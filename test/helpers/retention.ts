/**
 * A rule `keep_last = N` for one hosted repository, run as a server's retention pass runs it
 * (src/retention/engine.ts runRetention: the format's adapter lists, the planner judges, the
 * adapter deletes through the format's own delete path) over a listening test server's app. The
 * e2e tests of the PyPI, Maven, Cargo and Go adapters use it to check what the real clients see
 * afterwards; the planner, config and CLI have their own tests.
 */
import assert from 'node:assert/strict';
import type { FormatName, RetentionRule } from '../../src/config/schema.ts';
import { runRetention } from '../../src/retention/engine.ts';
import type { RetentionVersion } from '../../src/retention/types.ts';
import type { TestServer } from './server.ts';

export interface KeepLastResult {
  /** `name@version` of the versions deleted, sorted. */
  readonly deleted: readonly string[];
  /** `name@version` of the versions kept, sorted. */
  readonly kept: readonly string[];
  /** Bytes of the versions deleted, as the pass reported them. */
  readonly bytes: number;
  /** What the adapter listed before the pass. */
  readonly listed: readonly RetentionVersion[];
}

/** The adapter `format` provided to `server`'s app (assertion failure when none). */
export function adapterOf(server: TestServer, format: FormatName) {
  const adapter = server.app.context.retention.adapter(format);
  assert.ok(adapter, `format ${format} provided no retention adapter`);
  return adapter;
}

/**
 * Applies `[[retention.rules]] registry = format, repository = repoName, keep_last = keep` to
 * `server` (one pass, deleting); asserts every planned delete was done, none failed.
 */
export async function keepLast(
  server: TestServer,
  format: FormatName,
  repoName: string,
  keep: number,
): Promise<KeepLastResult> {
  const { repositories, retention } = server.app.context;
  const repo = repositories.get(repoName);
  assert.ok(repo, `no repository ${repoName}`);
  const listed = await adapterOf(server, format).versions(repo);
  const rule: RetentionRule = {
    registry: format,
    repository: repoName,
    name_glob: '**',
    keep_last: keep,
    exclude_tags: [],
  };
  const report = await runRetention({
    rules: [rule],
    repositories,
    adapters: retention,
    apply: true,
  });
  assert.deepEqual(report.failures, []);
  assert.equal(report.deleted, report.plan.delete.length, 'every planned version was deleted');
  const id = (v: RetentionVersion) => `${v.name}@${v.version}`;
  const deleted = report.plan.delete.map((p) => id(p.version)).sort();
  const kept = listed
    .map(id)
    .filter((v) => !deleted.includes(v))
    .sort();
  return { deleted, kept, bytes: report.bytes, listed };
}
