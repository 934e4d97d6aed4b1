/**
 * `nora curation validate FILE` and `nora curation explain registry:name@version`
 * (docs/curation.md "Command line").
 *
 * - validate: reads a blocklist or allowlist file (which one: its `rules` or `entries` key) and
 *   prints `ok: <file>: blocklist, N rules` (exit 0) or every problem as `<file>:<line>: <path>:
 *   <message>` on stderr (exit 1).
 * - explain: loads the configuration as `serve` does (`-c`, NORA_CONFIG_PATH, NORA_*), reads the
 *   lists it names, and prints the decision the running server would make for one proxied
 *   download (mode, decision, reason, rule, internal namespace), exit 0; a list that does not
 *   load is reported as the server would treat it (on_failure). With quarantine or a min
 *   release age on, also the artifact's first-seen times from the server's database (read
 *   only) and when its hold ends; `--json`: the same as one object (ExplainReport). Which
 *   configuration file it read (or that none was found) goes to stderr.
 */
import { isoSeconds, quarantineLine } from './quarantine.ts';
import { minAgeLine, PUBLISH_TIMES } from './settings.ts';
import { type FirstSeenEntry, readFirstSeen } from './first-seen.ts';
import { formatDuration } from '../config/fields.ts';
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { FORMAT_NAMES } from '../config/schema.ts';
import { databaseFile, loadCheckedConfig } from '../app.ts';
import { describeSubject, findRefusal, firstSeenKey, loadPolicy } from './engine.ts';
import { parseInternalNamespace, parseList, PolicyError } from './policy.ts';
import type { CurationRegistry, CurationSubject, RegistryTimeSettings } from './types.ts';

/** Thrown for a usage mistake (exit 2 through main.ts's UsageError handling is not reachable here). */
export class CurationCliError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode: number) {
    super(message);
    this.name = 'CurationCliError';
    this.exitCode = exitCode;
  }
}

/** `registry:name@version` → subject (`npm:@scope/pkg@1.2.3`, `pypi:requests@2.31.0`, `cargo:serde@*`: every version, a
 * name-level question). Throws CurationCliError (exit 2) for an unknown registry, no name, no version. */
export function parseSubject(text: string): CurationSubject {
  const colon = text.indexOf(':');
  const registry = colon < 0 ? '' : text.slice(0, colon);
  if (!(FORMAT_NAMES as readonly string[]).includes(registry)) {
    throw new CurationCliError(
      `nora curation explain: expected registry:name@version with registry one of ${FORMAT_NAMES.join(', ')}, got ${JSON.stringify(text)}`,
      2,
    );
  }
  const rest = text.slice(colon + 1);
  // The version follows the last '@' that is not the first character (npm scopes start with '@').
  const at = rest.lastIndexOf('@');
  const name = at > 0 ? rest.slice(0, at) : rest;
  const version = at > 0 ? rest.slice(at + 1) : undefined;
  if (name === '') {
    throw new CurationCliError(`nora curation explain: no name in ${JSON.stringify(text)}`, 2);
  }
  // Without a version the answer would be for a name-level question (only `*` rules refuse it)
  // and read "allowed" for a name a version rule blocks: a usage error, `@*` asks it on purpose
  // (trial 27 newC F7). Maven's `group:artifact:version` is the likely slip: named.
  // A raw file has no version: its path names it (`raw:tools/x.bin`).
  if (registry === 'raw' && version === undefined) return { registry, name };
  if (version === undefined || version === '') {
    const parts = name.split(':');
    const hint =
      registry === 'maven' && parts.length === 3
        ? ` (Maven: ${registry}:${parts[0]}:${parts[1]}@${parts[2]})`
        : '';
    throw new CurationCliError(
      `nora curation explain: no version in ${JSON.stringify(text)}: expected registry:name@version${hint}, or name@* for what applies to every version`,
      2,
    );
  }
  return {
    registry: registry as CurationRegistry,
    name,
    ...(version === '*' ? {} : { version }),
  };
}

/** The text `validate` prints for `file`, or throws `CurationCliError` (exit 1) listing problems. */
export function validateFile(file: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new CurationCliError(
      `${file}: cannot read: ${err instanceof Error ? err.message : String(err)}`,
      1,
    );
  }
  // Which list: by its key (a file with neither is judged as a blocklist, whose error says so).
  let kind: 'blocklist' | 'allowlist' = 'blocklist';
  try {
    const doc = JSON.parse(text) as unknown;
    if (typeof doc === 'object' && doc !== null && 'entries' in doc && !('rules' in doc)) {
      kind = 'allowlist';
    }
  } catch {
    // parseList reports the syntax error with its line.
  }
  try {
    const list = parseList(kind, file, text);
    const count = list.kind === 'blocklist' ? list.rules.length : list.entries.length;
    const noun =
      list.kind === 'blocklist'
        ? count === 1
          ? 'rule'
          : 'rules'
        : count === 1
          ? 'entry'
          : 'entries';
    return `ok: ${file}: ${kind}, ${count} ${noun}\n`;
  } catch (err) {
    if (err instanceof PolicyError) throw new CurationCliError(err.message, 1);
    throw err;
  }
}

/**
 * What `explain --json` prints: the text's facts, one key each. Times are ISO 8601 to the
 * second (UTC), durations seconds.
 */
export interface ExplainReport {
  readonly subject: {
    readonly registry: CurationRegistry;
    readonly name: string;
    readonly version: string | null;
  };
  readonly mode: string;
  /** The `internal_namespaces` entry the name matches (never proxied), else null. */
  readonly internal_namespace: string | null;
  /**
   * What the server does with the download now: `allowed`, `blocked`, `audited`, `not proxied`,
   * or `allowed by the lists` (the upstream's publish date, which explain cannot read, decides).
   * A quarantine hold or a min release age counted from first seen (read from the server's
   * database) refuses (`blocked`) or logs (`audited`) it here, whatever the lists say.
   */
  decision: string;
  /** The lists' verdict alone (`allowed`, `blocked`, `audited`, `allowed by the lists`). */
  lists_decision: string | null;
  reason: string | null;
  rule: string | null;
  /** Where the rule is (`/etc/nora/blocklist.json:4`). */
  source: string | null;
  policy_unavailable: string | null;
  readonly min_release_age_seconds: number;
  readonly quarantine: { readonly mode: string; readonly ttl_seconds: number };
  /** The artifact's first-seen clocks (FirstSeenEntry); null when not read (see first_seen_error). */
  first_seen: FirstSeenReport[] | null;
  /** The metadata database read for first_seen. */
  first_seen_store: string | null;
  first_seen_error: string | null;
  /** The configuration file read (`-c`, NORA_CONFIG_PATH, ./config.toml); null: none found. */
  readonly config_file: string | null;
  /** The text output's lines. */
  readonly lines: string[];
}

/** One first-seen clock with the times it ends. */
export interface FirstSeenReport {
  readonly digest: string | null;
  readonly first_seen: string;
  /** When the quarantine hold ends (null: quarantine off); `held`: not yet. */
  readonly quarantine_until: string | null;
  readonly held: boolean;
  /**
   * When the min release age counted from first sight ends (null: no age): the age's basis for
   * registries without an upstream date, or a version whose upstream gives none.
   */
  readonly min_age_until: string | null;
}

/** The report `explain` prints for `subject` under the configuration in force. */
export async function explainReport(
  subject: CurationSubject,
  file: string | undefined,
  now = Date.now(),
): Promise<ExplainReport> {
  const loaded = await loadCheckedConfig({
    env: process.env,
    ...(file === undefined ? {} : { file }),
  });
  const config = loaded.config.curation;
  const policy = loadPolicy(config, process.env, false);
  const lines = [`subject: ${describeSubject(subject)}`, `mode: ${policy.mode}`];
  const internal = config.internal_namespaces
    .map((entry) => ({ entry, ns: parseInternalNamespace(entry) }))
    .find(
      ({ ns }) =>
        (ns.registry === '*' || ns.registry === subject.registry) &&
        ns.pattern.matches(subject.registry, subject.name),
    );
  const times = policy.times[subject.registry];
  const report: ExplainReport = {
    subject: { registry: subject.registry, name: subject.name, version: subject.version ?? null },
    mode: policy.mode,
    internal_namespace: internal?.entry ?? null,
    decision: 'allowed',
    lists_decision: null,
    reason: null,
    rule: null,
    source: null,
    policy_unavailable: null,
    min_release_age_seconds: times.minReleaseAge,
    quarantine: { mode: times.quarantine, ttl_seconds: times.quarantineTtl },
    first_seen: null,
    first_seen_store: null,
    first_seen_error: null,
    config_file: loaded.file ?? null,
    lines,
  };
  if (internal !== undefined) {
    lines.push(
      `internal namespace: ${internal.entry} (never fetched from an upstream: proxies answer 404, groups serve their hosted copy)`,
    );
  }
  // An internal name never reaches the lists: the proxy answers 404 without asking, a hosted
  // copy is served (hosted is never curated). The decision says that, not what a rule would do
  // to a proxied download no request gets (trial 27 newC F8).
  if (internal !== undefined) {
    report.decision = 'not proxied';
    lines.push(
      'decision: not proxied (a proxy answers 404 without asking its upstream; a hosted copy is served, never curated)',
    );
    return report;
  }
  lines.push(minAgeLine(times, subject.registry), quarantineLine(times));
  firstSeenLines(report, subject, databaseFile(loaded.config), times, now);
  if (policy.unavailable !== undefined) {
    report.policy_unavailable = policy.unavailable;
    lines.push(`policy unavailable (on_failure = "${policy.onFailure}"): ${policy.unavailable}`);
  }
  const found = policy.mode === 'off' ? undefined : findRefusal(policy, subject);
  // The lists' decision line: `lists:` when a hold or an age decides instead (timeVerdict).
  const decisionLine = lines.length;
  // The age of one version is the server's to know (the upstream's date, its first-seen
  // table): explain says what decides, not a verdict it cannot make (trial 29 F4).
  const aged =
    policy.mode !== 'off' &&
    times.minReleaseAge > 0 &&
    (subject.version !== undefined || subject.registry === 'raw');
  if (found === undefined && aged) {
    const refused = policy.mode === 'enforce' ? 'blocked (403)' : 'audited (served, logged)';
    report.decision = 'allowed by the lists';
    lines.push(
      `decision: allowed by the lists; by age: ${refused} while younger than ${formatDuration(times.minReleaseAge)}, allowed after (reason min_release_age)`,
    );
  } else if (found === undefined) {
    report.decision = 'allowed';
    lines.push(
      policy.mode === 'off'
        ? 'decision: allowed (curation is off; only internal namespaces apply)'
        : 'decision: allowed (no rule refuses it)',
    );
  } else {
    const decision = policy.mode === 'enforce' ? 'blocked (403)' : 'audited (served, logged)';
    report.decision = policy.mode === 'enforce' ? 'blocked' : 'audited';
    report.reason = found.reason;
    report.rule = found.rule ?? null;
    report.source = found.source ?? null;
    lines.push(`decision: ${decision}`, `reason: ${found.reason}: ${found.why}`);
    if (found.rule !== undefined) {
      lines.push(`rule: ${found.rule}${found.source === undefined ? '' : `, ${found.source}`}`);
    }
    if (policy.bypassToken !== undefined) {
      lines.push('bypass: a request with the X-Nora-Bypass-Token header would be served');
    }
  }
  report.lists_decision = report.decision;
  timeVerdict(report, subject, times, policy.mode, decisionLine, now);
  return report;
}

/**
 * Puts the first-seen clocks' verdict in `report.decision` when it is worse than the lists'
 * (blocked over audited over allowed, as the gate's `pick`): a quarantine hold on any of the
 * artifact's digests (`quarantine`, independent of `mode`), or, for a registry without an
 * upstream publish date, a min release age not yet over since first seen, or never seen (the
 * first download is refused as just seen). The lists' line at `at` becomes `lists: …`, and
 * `decision:` and `reason:` lines say what the server does now (trial 30 F1).
 */
function timeVerdict(
  report: ExplainReport,
  subject: CurationSubject,
  times: RegistryTimeSettings,
  mode: string,
  at: number,
  now: number,
): void {
  const entries = report.first_seen;
  if (entries === null) return;
  const rank = (decision: string): number =>
    decision === 'blocked' ? 2 : decision === 'audited' ? 1 : 0;
  let verdict: { decision: string; reason: string; why: string } | undefined;
  const held = entries.find((entry) => entry.held);
  if (held !== undefined) {
    verdict = {
      decision: times.quarantine === 'enforce' ? 'blocked' : 'audited',
      reason: 'quarantine',
      why: `in quarantine (first seen ${held.first_seen}${held.digest === null ? '' : `, ${held.digest}`}) until ${held.quarantine_until ?? ''}`,
    };
  }
  const undated = PUBLISH_TIMES[subject.registry] === undefined;
  if (mode !== 'off' && times.minReleaseAge > 0 && undated) {
    // The gate reads the version's clock: its earliest row (entries are oldest first).
    const first = entries[0];
    const until = first?.min_age_until;
    const young =
      first === undefined || (until !== null && until !== undefined && Date.parse(until) > now);
    const decision = mode === 'enforce' ? 'blocked' : 'audited';
    if (young && (verdict === undefined || rank(decision) > rank(verdict.decision))) {
      verdict = {
        decision,
        reason: 'min_release_age',
        why:
          first === undefined
            ? `not seen before, younger than the minimum release age of ${formatDuration(times.minReleaseAge)} (its clock starts at the first download)`
            : `first seen ${first.first_seen}, younger than the minimum release age of ${formatDuration(times.minReleaseAge)}; available from ${until ?? ''}`,
      };
    }
  }
  const listed = report.lists_decision ?? 'allowed';
  if (verdict === undefined || rank(verdict.decision) <= rank(listed)) return;
  const lines = report.lines;
  lines[at] = (lines[at] ?? '').replace(/^decision: /, 'lists: ');
  report.decision = verdict.decision;
  report.reason = verdict.reason;
  report.rule =
    verdict.reason === 'quarantine'
      ? `quarantine ${times.quarantine}`
      : `min_release_age ${formatDuration(times.minReleaseAge)}`;
  report.source = null;
  lines.push(
    `decision: ${verdict.decision === 'blocked' ? 'blocked (403)' : 'audited (served, logged)'}`,
    `reason: ${verdict.reason}: ${verdict.why}`,
  );
}

/**
 * The artifact's first-seen clocks from the server's first-seen store (the metadata database
 * `store`, read only), and when its quarantine and a min release age counted from them end:
 * `first seen: 2026-12-05T10:00:00Z; quarantine until 2026-12-19T10:00:00Z (held now)`, one line
 * per digest where the registry keys them by digest. Only when quarantine or an age is on (the
 * store is not read otherwise) and the subject names a version (or a raw path).
 */
function firstSeenLines(
  report: ExplainReport,
  subject: CurationSubject,
  store: string,
  times: RegistryTimeSettings,
  now: number,
): void {
  const lines = report.lines;
  if (times.quarantine === 'off' && times.minReleaseAge <= 0) return;
  if (subject.version === undefined && subject.registry !== 'raw') return;
  if (store === ':memory:') {
    lines.push('first seen: unknown (storage mode memory: the server keeps no first-seen store)');
    return;
  }
  report.first_seen_store = store;
  let entries: FirstSeenEntry[];
  try {
    entries = readFirstSeen(store, firstSeenKey(subject));
  } catch (err) {
    report.first_seen_error = err instanceof Error ? err.message : String(err);
    lines.push(
      `first seen: unknown (the first-seen store could not be read: ${report.first_seen_error})`,
    );
    return;
  }
  report.first_seen = entries.map((entry) => {
    const quarantineUntil =
      times.quarantine === 'off' ? undefined : entry.at + times.quarantineTtl * 1000;
    const ageUntil = times.minReleaseAge > 0 ? entry.at + times.minReleaseAge * 1000 : undefined;
    return {
      digest: entry.digest ?? null,
      first_seen: isoSeconds(entry.at),
      quarantine_until: quarantineUntil === undefined ? null : isoSeconds(quarantineUntil),
      held: quarantineUntil !== undefined && quarantineUntil > now,
      min_age_until: ageUntil === undefined ? null : isoSeconds(ageUntil),
    };
  });
  if (report.first_seen.length === 0) {
    lines.push(
      `first seen: never (no proxy stored it from an upstream yet; its clock starts at the first download), ${store}`,
    );
    return;
  }
  for (const entry of report.first_seen) {
    const parts = [
      `first seen: ${entry.first_seen}${entry.digest === null ? '' : ` (${entry.digest})`}`,
    ];
    if (entry.quarantine_until !== null) {
      parts.push(
        `quarantine until ${entry.quarantine_until} (${entry.held ? `held now${times.quarantine === 'enforce' ? ': a download is refused until then' : ': served, logged (observe)'}` : 'released'})`,
      );
    }
    if (entry.min_age_until !== null) {
      const basis = PUBLISH_TIMES[subject.registry];
      parts.push(
        `min_release_age from first seen until ${entry.min_age_until}${basis === undefined ? '' : ` (used only when ${basis} is missing)`}`,
      );
    }
    lines.push(parts.join('; '));
  }
  lines.push(`first-seen store: ${store}`);
}

/** The lines `explain` prints for `subject` under the configuration in force. */
export async function explain(subject: CurationSubject, file: string | undefined): Promise<string> {
  return `${(await explainReport(subject, file)).lines.join('\n')}\n`;
}

/** Adds `nora curation validate|explain` to `program`. */
export function addCurationCommands(program: Command): void {
  const curation = program
    .command('curation')
    .description('validate or explain the curation policy (docs/curation.md)');
  curation
    .command('validate')
    .argument('<file>', 'a blocklist or allowlist JSON file')
    .description('check a curation list file: exit 0 when valid, 1 with every problem and its line')
    .action((file: string) => {
      try {
        process.stdout.write(validateFile(file));
      } catch (err) {
        if (!(err instanceof CurationCliError)) throw err;
        process.stderr.write(`${err.message}\n`);
        process.exitCode = err.exitCode;
      }
    });
  curation
    .command('explain')
    .argument('<subject>', 'registry:name@version (raw: raw:path), e.g. npm:left-pad@1.3.0')
    .option('-c, --config <file>', 'config file (default: NORA_CONFIG_PATH or ./config.toml)')
    .option('--json', 'print the report as one JSON object')
    .description(
      'print the decision curation would make for one proxied download, and why; with quarantine or a min release age, when the server first saw the artifact and when its hold ends',
    )
    .action(async (text: string, opts: { config?: string; json?: boolean }) => {
      try {
        const report = await explainReport(parseSubject(text), opts.config);
        // Which configuration the answer is for, as other verbs say it: a missing ./config.toml
        // silently meant the defaults (trial 30 F4).
        process.stderr.write(
          `nora curation explain: configuration from ${report.config_file ?? 'defaults + environment (no config file: -c, NORA_CONFIG_PATH or ./config.toml)'}\n`,
        );
        process.stdout.write(
          opts.json === true
            ? `${JSON.stringify(report, null, 2)}\n`
            : `${report.lines.join('\n')}\n`,
        );
      } catch (err) {
        if (!(err instanceof CurationCliError)) throw err;
        process.stderr.write(`${err.message}\n`);
        process.exitCode = err.exitCode;
      }
    });
}
