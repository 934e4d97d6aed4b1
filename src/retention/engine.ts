/**
 * One retention pass: list the versions of every hosted repository a rule may judge (through its
 * format's adapter, src/retention/types.ts), plan (planner.ts), and, when applying, delete the
 * planned versions one by one through the adapter. Used by the in-server scheduler
 * (scheduler.ts), the admin endpoint (http/retention-api.ts) and `nora retention-plan/-apply`
 * (cli.ts), always over a built app's adapters, so deletes go through the live services.
 */
import type { RetentionRule } from '../config/schema.ts';
import type { Logger } from '../core/logger.ts';
import type { Repository, RepositoryRegistry } from '../repos/repository.ts';
import { compileGlob } from '../auth/patterns.ts';
import {
  planRetention,
  type PlannedVersion,
  type RetentionInput,
  type RetentionPlan,
} from './planner.ts';
import { rulesMatchingNothing } from './rule-targets.ts';
import type { RetentionRegistry } from './types.ts';
import type { AuditSink } from '../audit/types.ts';

export interface RetentionRunOptions {
  readonly rules: readonly RetentionRule[];
  readonly repositories: RepositoryRegistry;
  readonly adapters: RetentionRegistry;
  /** Delete what the plan selects; false: plan only. */
  readonly apply: boolean;
  /** ms since the epoch the ages are computed at (default now). */
  readonly now?: number;
  readonly log?: Logger;
  /** Where each deletion is recorded as `retention-apply` (src/audit/); none: not recorded. */
  readonly audit?: AuditSink;
  /** The audit events' actor: the admin who asked (the admin endpoint), else `system`. */
  readonly actor?: string;
}

/** A version whose delete failed (the pass went on with the others). */
export interface RetentionFailure {
  readonly repository: string;
  readonly name: string;
  readonly version: string;
  readonly error: string;
}

export interface RetentionReport {
  readonly apply: boolean;
  readonly plan: RetentionPlan;
  /** Versions deleted (apply only; a version gone in between is not counted). */
  readonly deleted: number;
  /** Bytes of the versions deleted (their blobs stay until gc finds them unreferenced). */
  readonly bytes: number;
  readonly failures: readonly RetentionFailure[];
  /**
   * Hosted repositories a rule names by format (`registry = "<format>"`) whose format has no
   * retention in this build (or is disabled): nothing of them was judged.
   */
  readonly unsupported: readonly string[];
  /** Rules that match no hosted repository of their registry (rule-targets.ts): they judge nothing. */
  readonly warnings: readonly string[];
  readonly seconds: number;
}

/** Whether some rule could judge a version of `repo` (its format and name). */
function anyRuleFor(rules: readonly RetentionRule[], repo: Repository): boolean {
  return rules.some(
    (r) =>
      (r.registry === '*' || r.registry === repo.format) &&
      compileGlob(r.repository).test(repo.name),
  );
}

/**
 * The warning of a pass without rules: an empty plan must not read as "nothing is old enough"
 * (trial 33: the admin endpoint and `retention-plan` answered an empty plan, no word why).
 */
export const NO_RULES =
  'no [[retention.rules]] configured: nothing is judged and nothing deleted (add [[retention.rules]] to the configuration, see docs/retention.md)';

/** Runs one pass. Throws only when a listing fails (nothing was deleted then). */
export async function runRetention(options: RetentionRunOptions): Promise<RetentionReport> {
  const started = performance.now();
  const now = options.now ?? Date.now();
  const inputs: RetentionInput[] = [];
  const unsupported: string[] = [];
  const byName = new Map<string, Repository>();
  for (const repo of options.repositories.all()) {
    // Hosted only: a proxy's cache is refetched on the next read, a group holds nothing itself.
    if (repo.kind !== 'hosted' || !anyRuleFor(options.rules, repo)) continue;
    const adapter = options.adapters.adapter(repo.format);
    if (adapter === undefined) {
      if (options.rules.some((r) => r.registry === repo.format)) unsupported.push(repo.name);
      continue;
    }
    byName.set(repo.name, repo);
    inputs.push({
      repository: repo.name,
      format: repo.format,
      versions: await adapter.versions(repo),
    });
  }
  inputs.sort((a, b) => (a.repository < b.repository ? -1 : a.repository > b.repository ? 1 : 0));
  const plan = planRetention(options.rules, inputs, now);
  let deleted = 0;
  let bytes = 0;
  const failures: RetentionFailure[] = [];
  if (options.apply) {
    for (const planned of plan.delete) {
      const repo = byName.get(planned.repository);
      const adapter = options.adapters.adapter(planned.format);
      if (repo === undefined || adapter === undefined) continue;
      try {
        const result = await adapter.delete(repo, planned.version);
        if (result.deleted) {
          deleted++;
          bytes += result.bytes;
          options.audit?.record({
            ts: new Date().toISOString(),
            action: 'retention-apply',
            actor: options.actor ?? 'system',
            artifact: `${planned.version.name}@${planned.version.version}`,
            registry: planned.format,
            detail: `rule ${planned.rule + 1}: ${planned.reason}`,
            repository: planned.repository,
            format: planned.format,
          });
          options.log?.info(
            { retention: describePlanned(planned) },
            `retention deleted ${planned.repository} ${planned.version.name} ${planned.version.version} (${planned.reason})`,
          );
        }
      } catch (err) {
        const error = err instanceof Error ? err.message : String(err);
        failures.push({
          repository: planned.repository,
          name: planned.version.name,
          version: planned.version.version,
          error,
        });
        options.log?.error(
          { err, retention: describePlanned(planned) },
          `retention could not delete ${planned.repository} ${planned.version.name} ${planned.version.version}`,
        );
      }
    }
  }
  return {
    apply: options.apply,
    plan,
    deleted,
    bytes,
    failures,
    unsupported,
    warnings:
      options.rules.length === 0
        ? [NO_RULES]
        : rulesMatchingNothing(options.rules, options.repositories.all()),
    seconds: (performance.now() - started) / 1000,
  };
}

/**
 * A planned version as JSON (`--json`, the admin endpoint, log fields). `rule` counts from 1, as
 * the text plan does (the first `[[retention.rules]]` is rule 1; trial 27 newR F4).
 */
export function describePlanned(planned: PlannedVersion): Record<string, unknown> {
  return {
    repository: planned.repository,
    format: planned.format,
    name: planned.version.name,
    version: planned.version.version,
    stored_at: new Date(planned.version.storedAt).toISOString(),
    bytes: planned.version.bytes,
    tags: planned.version.tags,
    rule: planned.rule + 1,
    reason: planned.reason,
  };
}

/** The report as JSON (`nora retention-plan --json`, the admin endpoint). */
export function reportJson(report: RetentionReport): Record<string, unknown> {
  return {
    apply: report.apply,
    examined: report.plan.examined,
    kept: report.plan.kept,
    planned: report.plan.delete.length,
    planned_bytes: report.plan.bytes,
    deleted: report.deleted,
    deleted_bytes: report.bytes,
    delete: report.plan.delete.map(describePlanned),
    spared: report.plan.spared.map(describePlanned),
    failures: report.failures,
    unsupported: report.unsupported,
    warnings: report.warnings,
    seconds: report.seconds,
  };
}

/** Lines describing `report`, for the CLI and the server's log. */
export function describeRetentionReport(report: RetentionReport): string[] {
  const { plan } = report;
  const lines = [
    report.apply
      ? 'nora retention: applied the [[retention.rules]]'
      : 'nora retention: plan only (nothing deleted)',
    `examined ${plan.examined} versions of hosted repositories: ${plan.delete.length} to delete (${plan.bytes} bytes of versions), ${plan.kept} kept`,
  ];
  for (const p of plan.delete) {
    lines.push(
      `  delete ${p.repository} ${p.version.name} ${p.version.version} (${p.version.bytes} bytes): rule ${p.rule + 1}, ${p.reason}`,
    );
  }
  for (const p of plan.spared) {
    lines.push(
      `  keep ${p.repository} ${p.version.name} ${p.version.version}: rule ${p.rule + 1}, ${p.reason}`,
    );
  }
  for (const warning of report.warnings) lines.push(`warning: ${warning}`);
  if (report.unsupported.length > 0) {
    lines.push(
      `not judged (their format has no retention in this build or is disabled): ${report.unsupported.join(', ')}`,
    );
  }
  if (report.apply) {
    lines.push(
      `deleted ${report.deleted} versions, ${report.bytes} bytes of versions deleted (their blobs are removed by gc once nothing refers to them)`,
    );
    for (const f of report.failures) {
      lines.push(`  failed ${f.repository} ${f.name} ${f.version}: ${f.error}`);
    }
  }
  lines.push(`took ${report.seconds.toFixed(3)} s`);
  return lines;
}
