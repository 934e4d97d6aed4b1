/**
 * The retention planner: rules + a hosted repository's versions → what to delete. Pure (no I/O,
 * `now` passed in), so every rule combination is unit-tested without a server.
 *
 * Semantics (docs/retention.md):
 * - A name's versions are judged by the FIRST rule (in file order) whose `registry` (format or
 *   `*`), `repository` glob and `name_glob` all match; a name no rule matches is kept whole.
 * - Within a name, versions are sorted newest first by `storedAt` (ties: the greater version
 *   string first, so the order is stable). A version is deleted when it is not among the newest
 *   `keep_last` (absent: no count is kept) AND, when `older_than_days` is set, it was stored more
 *   than that many days before `now`.
 * - A version with a tag matching one of the rule's `exclude_tags`, or `protectedBy` its adapter
 *   (npm's `latest`), is never deleted; it still takes its place among the newest `keep_last`.
 */
import type { FormatName, RetentionRule } from '../config/schema.ts';
import { compileGlob, type Glob } from '../auth/patterns.ts';
import type { RetentionVersion } from './types.ts';

const DAY_MS = 86_400_000;

/** One hosted repository's versions, as its format's adapter listed them. */
export interface RetentionInput {
  readonly repository: string;
  readonly format: FormatName;
  readonly versions: readonly RetentionVersion[];
}

/** A version the plan judged. */
export interface PlannedVersion {
  readonly repository: string;
  readonly format: FormatName;
  readonly version: RetentionVersion;
  /** Index of the rule that judged it in `[[retention.rules]]` (0-based; JSON and text say index + 1). */
  readonly rule: number;
  /** Why it is deleted or kept, in words (`not among the newest 3; stored 40 days ago`). */
  readonly reason: string;
}

export interface RetentionPlan {
  /** ms since the epoch the ages were computed at. */
  readonly now: number;
  /** What the rules delete, by repository, name, then newest first. */
  readonly delete: readonly PlannedVersion[];
  /** Versions a rule judged and kept only because of `exclude_tags` or `protectedBy`. */
  readonly spared: readonly PlannedVersion[];
  /** Versions looked at (all of every input). */
  readonly examined: number;
  /** Versions kept (examined − deleted). */
  readonly kept: number;
  /** Sum of `bytes` of the versions to delete. */
  readonly bytes: number;
}

interface CompiledRule {
  readonly index: number;
  readonly rule: RetentionRule;
  readonly repository: Glob;
  readonly name: Glob;
  readonly excludeTags: readonly Glob[];
}

/** Compiles the rules once per plan. */
function compile(rules: readonly RetentionRule[]): CompiledRule[] {
  return rules.map((rule, index) => ({
    index,
    rule,
    repository: compileGlob(rule.repository),
    name: compileGlob(rule.name_glob),
    excludeTags: rule.exclude_tags.map(compileGlob),
  }));
}

/** The first rule judging `name` of `repository` (a `format` repository), if any. */
function ruleFor(
  rules: readonly CompiledRule[],
  format: FormatName,
  repository: string,
  name: string,
): CompiledRule | undefined {
  return rules.find(
    (r) =>
      (r.rule.registry === '*' || r.rule.registry === format) &&
      r.repository.test(repository) &&
      r.name.test(name),
  );
}

/** Newest first by stored time; ties by version string, greater first. */
function newestFirst(a: RetentionVersion, b: RetentionVersion): number {
  if (a.storedAt !== b.storedAt) return b.storedAt - a.storedAt;
  return a.version < b.version ? 1 : a.version > b.version ? -1 : 0;
}

function days(ms: number): string {
  const d = Math.floor(ms / DAY_MS);
  return d === 1 ? '1 day' : `${d} days`;
}

/**
 * The plan for `inputs` under `rules` at `now` (ms). Never throws for valid rules (the schema
 * refuses a rule with neither `keep_last` nor `older_than_days`; such a rule here keeps all).
 */
export function planRetention(
  rules: readonly RetentionRule[],
  inputs: readonly RetentionInput[],
  now: number,
): RetentionPlan {
  const compiled = compile(rules);
  const deletions: PlannedVersion[] = [];
  const spared: PlannedVersion[] = [];
  let examined = 0;
  let bytes = 0;
  for (const input of inputs) {
    examined += input.versions.length;
    const byName = new Map<string, RetentionVersion[]>();
    for (const v of input.versions) {
      const list = byName.get(v.name);
      if (list) list.push(v);
      else byName.set(v.name, [v]);
    }
    const names = [...byName.keys()].sort();
    for (const name of names) {
      const rule = ruleFor(compiled, input.format, input.repository, name);
      if (rule === undefined) continue;
      const { keep_last: keepLast, older_than_days: olderThanDays } = rule.rule;
      if (keepLast === undefined && olderThanDays === undefined) continue;
      const versions = [...(byName.get(name) ?? [])].sort(newestFirst);
      versions.forEach((version, position) => {
        if (keepLast !== undefined && position < keepLast) return;
        const age = now - version.storedAt;
        if (olderThanDays !== undefined && !(age > olderThanDays * DAY_MS)) return;
        const why = [
          ...(keepLast === undefined ? [] : [`not among the newest ${keepLast}`]),
          `stored ${days(Math.max(0, age))} ago` +
            (olderThanDays === undefined ? '' : ` (older than ${olderThanDays})`),
        ].join('; ');
        const planned = (reason: string): PlannedVersion => ({
          repository: input.repository,
          format: input.format,
          version,
          rule: rule.index,
          reason,
        });
        const excluded = version.tags.find((tag) => rule.excludeTags.some((g) => g.test(tag)));
        if (version.protectedBy !== undefined) {
          spared.push(planned(`${why}, but kept: ${version.protectedBy}`));
        } else if (excluded !== undefined) {
          spared.push(planned(`${why}, but kept: tag ${excluded} matches exclude_tags`));
        } else {
          deletions.push(planned(why));
          bytes += version.bytes;
        }
      });
    }
  }
  return { now, delete: deletions, spared, examined, kept: examined - deletions.length, bytes };
}
