/**
 * The curation engine: the one `CurationGate` of an app (src/curation/types.ts), built from
 * `[curation]` and the list files it names, replaced in place by `reload` (SIGHUP). A reload
 * that cannot read or parse a list keeps the running policy and says why; a list that cannot be
 * read at start leaves the policy "unavailable": in enforce, `on_failure = "closed"` refuses
 * every proxied download, `"open"` lets them through (both counted with reason
 * policy_unavailable).
 */
import { readFileSync } from 'node:fs';
import { timingSafeEqual } from 'node:crypto';
import type { Counter } from 'prom-client';
import { type AppConfig, FORMAT_NAMES } from '../config/schema.ts';
import { formatDuration } from '../config/fields.ts';
import { RegistryError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import type { Metrics } from '../metrics/metrics.ts';
import { type BypassWho, type CurationRequest, curationRequest } from './context.ts';
import {
  type Allowlist,
  type Blocklist,
  canonicalName,
  type InternalNamespace,
  parseInternalNamespace,
  parseList,
  PolicyError,
  ruleMatches,
} from './policy.ts';
import { holdsCounter, quarantineVerdict } from './quarantine.ts';
import { registrySettings } from './settings.ts';
import type {
  CurationGate,
  CurationMode,
  CurationReason,
  CurationRegistry,
  CurationSubject,
  CurationVerdict,
  FirstSeenKey,
  FirstSeenStore,
  QuarantineHold,
  RegistryTimeSettings,
} from './types.ts';

export type CurationConfig = AppConfig['curation'];

/** One loaded policy: what `decide` reads. Immutable; a reload builds another. */
export interface Policy {
  readonly mode: CurationMode;
  readonly onFailure: 'closed' | 'open';
  readonly blocklist: Blocklist | undefined;
  readonly allowlist: Allowlist | undefined;
  readonly requireIntegrity: boolean;
  readonly internal: readonly InternalNamespace[];
  readonly bypassToken: string | undefined;
  /** Why a configured list is not in force (start-up only), else undefined. */
  readonly unavailable: string | undefined;
  /** Each registry's min release age and quarantine (`[curation.<registry>]` over `[curation]`). */
  readonly times: Readonly<Record<CurationRegistry, RegistryTimeSettings>>;
}

/**
 * Loads the policy `config` describes, reading its list files. `strict`: a list that cannot be
 * read or parsed throws (`PolicyError`, or the read error); otherwise it is recorded in
 * `unavailable` (start-up: on_failure decides).
 */
export function loadPolicy(
  config: CurationConfig,
  env: NodeJS.ProcessEnv,
  strict: boolean,
): Policy {
  let unavailable: string | undefined;
  const read = <K extends 'blocklist' | 'allowlist'>(
    kind: K,
    path: string,
  ): (K extends 'blocklist' ? Blocklist : Allowlist) | undefined => {
    if (path === '') return undefined;
    try {
      return parseList(kind, path, readFileSync(path, 'utf8')) as K extends 'blocklist'
        ? Blocklist
        : Allowlist;
    } catch (err) {
      if (strict) throw err;
      const why = err instanceof Error ? err.message : String(err);
      unavailable = unavailable === undefined ? why : `${unavailable}; ${why}`;
      return undefined;
    }
  };
  const blocklist = read('blocklist', config.blocklist_path);
  const allowlist = read('allowlist', config.allowlist_path);
  const token = env.NORA_CURATION_BYPASS_TOKEN;
  return {
    mode: config.mode,
    onFailure: config.on_failure,
    blocklist,
    allowlist,
    requireIntegrity: config.require_integrity,
    internal: config.internal_namespaces.map(parseInternalNamespace),
    bypassToken: token === undefined || token === '' ? undefined : token,
    unavailable,
    times: Object.fromEntries(
      FORMAT_NAMES.map((registry) => [registry, registrySettings(config, registry)]),
    ) as Record<CurationRegistry, RegistryTimeSettings>,
  };
}

interface Found {
  readonly reason: CurationReason;
  /** What clients are told: the list kind and rule number (`blocklist rule 1 (npm a <1)`). */
  readonly rule: string | undefined;
  /** Where the rule is (`/etc/nora/blocklist.json:4`): for logs and explain, never clients. */
  readonly source?: string | undefined;
  readonly why: string;
  /** When the min release age lets it through (ms). */
  readonly until?: number | undefined;
  /** A blocklist rule's operator-written reason. */
  readonly note?: string | undefined;
}

/**
 * What the lists say of `subject` regardless of mode: undefined (nothing refuses it) or why a
 * rule refuses it. Blocklist rules win over the allowlist; the allowlist applies to the
 * registries it has entries for (or every registry, with an entry of registry `*`).
 */
export function findRefusal(policy: Policy, subject: CurationSubject): Found | undefined {
  if (policy.unavailable !== undefined && policy.onFailure === 'closed') {
    return {
      reason: 'policy_unavailable',
      rule: undefined,
      // The load error names the list's path on the server (ENOENT …, '/etc/nora/…'): it goes
      // to the log line and explain (`source`), the client reads a generic reason.
      source: policy.unavailable,
      why: 'the curation policy could not be loaded (on_failure = "closed"); the server log says why',
    };
  }
  for (const rule of policy.blocklist?.rules ?? []) {
    if (!ruleMatches(rule, subject)) continue;
    return {
      reason: 'blocklist',
      // The server's file path stays out of client answers (trial 27 newC F9).
      rule: `blocklist rule ${rule.index} (${rule.registry} ${rule.name.source} ${rule.version.source})`,
      source: `${policy.blocklist?.file}${rule.line === undefined ? '' : `:${rule.line}`}`,
      why: rule.reason,
      note: rule.reason,
    };
  }
  const entries = policy.allowlist?.entries;
  if (entries === undefined) return undefined;
  const governs = entries.some((e) => e.registry === '*' || e.registry === subject.registry);
  if (!governs) return undefined;
  const matching = entries.filter((e) => ruleMatches(e, subject));
  if (matching.length === 0) {
    return {
      reason: 'allowlist',
      rule: `the ${subject.registry} allowlist`,
      source: policy.allowlist?.file,
      why: `not on the ${subject.registry} allowlist`,
    };
  }
  const pinned = matching.filter((e) => e.integrity !== undefined);
  if (pinned.length === 0) {
    if (!policy.requireIntegrity) return undefined;
    const entry = matching[0];
    return {
      reason: 'integrity',
      rule: `allowlist entry ${entry?.index} (${entry?.name.source} ${entry?.version.source})`,
      source: `${policy.allowlist?.file}${entry?.line === undefined ? '' : `:${entry.line}`}`,
      why: 'require_integrity is on and the allowlist entry has no integrity',
    };
  }
  if (subject.integrity !== undefined && pinned.some((e) => e.integrity === subject.integrity)) {
    return undefined;
  }
  // An entry pinned to an integrity is not honoured while the integrity is unknown.
  if (subject.integrity === undefined && !policy.requireIntegrity) return undefined;
  const entry = pinned[0];
  return {
    reason: 'integrity',
    rule: `allowlist entry ${entry?.index} (${entry?.name.source} ${entry?.version.source})`,
    source: `${policy.allowlist?.file}${entry?.line === undefined ? '' : `:${entry.line}`}`,
    why:
      subject.integrity === undefined
        ? 'its integrity is not known before download and require_integrity is on'
        : `integrity ${subject.integrity} differs from the allowlist's ${entry?.integrity}`,
  };
}

/** `2026-12-05T14:00:00Z` (ms since the epoch, to the second). */
function iso(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 19)}Z`;
}

/** `npm left-pad@1.3.0` */
export function describeSubject(subject: CurationSubject): string {
  return `${subject.registry} ${subject.name}${subject.version === undefined ? '' : `@${subject.version}`}`;
}

/** What a CurationEngine needs besides its policy (all optional). */
export interface CurationEngineOptions {
  /** First-seen times (quarantine, min release age fallback); none: nothing is recorded. */
  readonly store?: FirstSeenStore | undefined;
  /** The clock, ms since the epoch (tests pass a fake one). */
  readonly now?: (() => number) | undefined;
}

/** The first-seen key of `subject`: the name as the engine compares it, '' for unknowns. */
export function firstSeenKey(subject: CurationSubject): FirstSeenKey {
  return {
    registry: subject.registry,
    name: canonicalName(subject.registry, subject.name),
    version: subject.version ?? '',
    digest: subject.digest ?? '',
  };
}

const ALLOWED: CurationVerdict = {
  decision: 'allowed',
  reason: 'none',
  refuse: false,
  message: '',
};

/** The verdict that decides among `verdicts`: the first refusal, else the first, else allowed. */
function pick(verdicts: readonly CurationVerdict[]): CurationVerdict {
  return verdicts.find((v) => v.refuse) ?? verdicts[0] ?? ALLOWED;
}

/** The gate of one app: the running policy, counted and logged. */
export class CurationEngine implements CurationGate {
  #policy: Policy;
  #epoch = 0;
  readonly #log: Logger;
  readonly #decisions: Counter<'registry' | 'decision' | 'reason'>;
  readonly #upstreamBlocked: Counter<'registry' | 'reason'>;
  readonly #holds: Counter<'registry' | 'mode'>;
  readonly #store: FirstSeenStore | undefined;
  readonly #now: () => number;

  constructor(policy: Policy, metrics: Metrics, log: Logger, options: CurationEngineOptions = {}) {
    this.#policy = policy;
    this.#log = log;
    this.#store = options.store;
    this.#now = options.now ?? Date.now;
    this.#decisions = metrics.counter(
      'nora_curation_decisions_total',
      'Curation decisions on proxied downloads, by registry, decision (allowed, blocked, audited, bypassed) and reason',
      ['registry', 'decision', 'reason'],
    );
    this.#holds = holdsCounter(metrics);
    this.#upstreamBlocked = metrics.counter(
      'nora_upstream_policy_blocked_total',
      'Upstream requests curation kept from being made (internal namespaces), by registry and reason',
      ['registry', 'reason'],
    );
    if (policy.unavailable !== undefined && policy.mode !== 'off') {
      log.warn(
        { error: policy.unavailable, on_failure: policy.onFailure },
        `curation policy could not be loaded: ${policy.onFailure === 'closed' && policy.mode === 'enforce' ? 'every proxied download is refused' : 'proxied downloads are not curated'} until a reload loads it (on_failure = "${policy.onFailure}")`,
      );
    }
  }

  get policy(): Policy {
    return this.#policy;
  }

  /** Puts `policy` in force (every later decision uses it). */
  replace(policy: Policy): void {
    this.#policy = policy;
    this.#epoch++;
  }

  readonly mode = (): CurationMode => this.#policy.mode;

  /**
   * The lists in force, for the reload's log line: `blocklist 3 rules, allowlist 1 entry`, or
   * undefined when no list is configured.
   */
  lists(): string | undefined {
    const { blocklist, allowlist } = this.#policy;
    const count = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;
    const parts = [
      ...(blocklist === undefined
        ? []
        : [`blocklist ${count(blocklist.rules.length, 'rule', 'rules')}`]),
      ...(allowlist === undefined
        ? []
        : [`allowlist ${count(allowlist.entries.length, 'entry', 'entries')}`]),
    ];
    return parts.length === 0 ? undefined : parts.join(', ');
  }

  isInternal(registry: CurationRegistry, name: string): boolean {
    const internal = this.#policy.internal.some(
      (ns) =>
        (ns.registry === '*' || ns.registry === registry) && ns.pattern.matches(registry, name),
    );
    if (internal) this.#upstreamBlocked.inc({ registry, reason: 'internal_namespace' });
    return internal;
  }

  /**
   * Why the min release age refuses `subject`, or undefined: no age for its registry, no
   * version (raw paths excepted), or old enough. The publish time is `subject.publishedAt`,
   * else the first-seen time (by digest, else name@version); a version with neither is refused
   * as just seen when a store is attached (its clock starts at the first download, `guard`
   * records it) and let through without one (nothing to judge by: docs/curation.md "Minimum
   * release age").
   * `unknown = 'allow'` (listings): a version without a known time is not refused.
   */
  #tooYoung(subject: CurationSubject, unknown: 'now' | 'allow'): Found | undefined {
    const age = this.#policy.times[subject.registry].minReleaseAge;
    // A name-level question (no version) is not aged, except raw's: a raw file has no version,
    // its path names the artifact, aged from when NORA first saw that path.
    if (age <= 0 || (subject.version === undefined && subject.registry !== 'raw')) return undefined;
    const now = this.#now();
    let basis = 'published';
    let at = subject.publishedAt;
    if (at === undefined || !Number.isFinite(at)) {
      basis = 'first seen';
      at = this.firstSeen(subject);
      if (at === undefined) {
        if (unknown === 'allow' || this.#store === undefined) return undefined;
        basis = 'not seen before';
        at = now;
      }
    }
    const from = at + age * 1000;
    if (from <= now) return undefined;
    const when = basis === 'not seen before' ? 'not seen before' : `${basis} ${iso(at)}`;
    return {
      reason: 'min_release_age',
      rule: `min_release_age ${formatDuration(age)}`,
      why: `${when}, younger than the minimum release age of ${formatDuration(age)}; available from ${iso(from)}`,
      until: from,
    };
  }

  decide(subject: CurationSubject): CurationVerdict {
    return pick(this.#verdicts(subject, 'now'));
  }

  /**
   * Every verdict that applies to `subject`: the lists' or the min release age's (following
   * `mode`), then the quarantine's (independent of `mode`). Empty: allowed. Both are kept, so
   * an audited min age and a quarantine hold are each counted and logged (`guard`), and a
   * refusal by either wins over the other's pass (`pick`).
   */
  #verdicts(subject: CurationSubject, unknown: 'now' | 'allow'): CurationVerdict[] {
    const listed = this.#listed(subject, unknown);
    const held = this.#quarantined(subject);
    return [...(listed === undefined ? [] : [listed]), ...(held === undefined ? [] : [held])];
  }

  /** The verdict of the lists and the min release age, undefined when they let it through. */
  #listed(subject: CurationSubject, unknown: 'now' | 'allow'): CurationVerdict | undefined {
    const policy = this.#policy;
    if (policy.mode === 'off') return undefined;
    const found = findRefusal(policy, subject) ?? this.#tooYoung(subject, unknown);
    if (found === undefined) return undefined;
    // on_failure = "open" with an unavailable policy falls through to the lists that did load.
    const what = describeSubject(subject);
    const said = `${what} is blocked by curation${found.rule === undefined ? '' : ` (${found.rule})`}: ${found.why}`;
    if (this.#bypassed()) {
      return {
        decision: 'bypassed',
        reason: found.reason,
        refuse: false,
        message: `curation: ${said}; served: bypass token`,
        rule: found.rule,
        source: found.source,
        until: found.until,
        note: found.note,
      };
    }
    if (policy.mode === 'audit') {
      return {
        decision: 'audited',
        reason: found.reason,
        refuse: false,
        message: `curation (audit): ${said}; served: audit mode`,
        rule: found.rule,
        source: found.source,
        until: found.until,
        note: found.note,
      };
    }
    return {
      decision: 'blocked',
      reason: found.reason,
      refuse: true,
      message: `curation: ${said}`,
      rule: found.rule,
      source: found.source,
      until: found.until,
      note: found.note,
    };
  }

  guard(subject: CurationSubject): CurationVerdict {
    // Without a trusted date the min release age counts from the first request: start the clock
    // now (a no-op when a time is recorded), so a refused version becomes available later.
    if (
      this.#policy.mode !== 'off' &&
      subject.publishedAt === undefined &&
      this.#policy.times[subject.registry].minReleaseAge > 0
    ) {
      this.recordFirstSeen(subject);
    }
    return this.#act(subject, this.#verdicts(subject, 'now'));
  }

  guardHold(subject: CurationSubject): CurationVerdict {
    const held = this.#quarantined(subject);
    return this.#act(subject, held === undefined ? [] : [held]);
  }

  /**
   * Counts and logs each of `verdicts` (none: one `allowed`, unless mode is off), then throws the
   * refusal among them (DENIED) or returns the one that decided (`pick`).
   */
  #act(subject: CurationSubject, verdicts: readonly CurationVerdict[]): CurationVerdict {
    // Off counts nothing, but a quarantine hold (independent of mode) is counted and logged.
    const counted = verdicts.length > 0 ? verdicts : this.#policy.mode === 'off' ? [] : [ALLOWED];
    // A group asks the gate once per proxy member it tries (and a format may ask again before
    // answering): one client request counts and logs each subject's outcome once.
    for (const verdict of counted) {
      if (!this.#firstInRequest(subject, verdict)) continue;
      this.#decisions.inc({
        registry: subject.registry,
        decision: verdict.decision,
        reason: verdict.reason,
      });
      if (verdict.decision !== 'allowed') this.#logVerdict(subject, verdict);
      if (verdict.reason === 'quarantine') this.#countHold(subject, verdict);
    }
    const verdict = pick(verdicts);
    if (verdict.refuse) throw new RegistryError('DENIED', verdict.message);
    return verdict;
  }

  /**
   * True the first time this request (curationRequest's store) meets `subject` with this
   * outcome; always true outside a request (CLI, tests), where each call is its own.
   */
  #firstInRequest(subject: CurationSubject, verdict: CurationVerdict): boolean {
    const store = curationRequest.getStore();
    if (store === undefined) return true;
    const key = [
      subject.registry,
      subject.name,
      subject.version ?? '',
      verdict.decision,
      verdict.reason,
    ].join('\n');
    store.counted ??= new Set();
    if (store.counted.has(key)) return false;
    store.counted.add(key);
    return true;
  }

  /** The WARN line of a refused, audited or bypassed download (`curation.source`: where from). */
  #logVerdict(subject: CurationSubject, verdict: CurationVerdict): void {
    // A bypass names who used it (request id, principal, client address): the override is
    // attributable without matching timestamps against request lines (trial 27 newC F6).
    const who = curationRequest.getStore()?.who;
    this.#log.warn(
      {
        ...(verdict.decision === 'bypassed' ? who : undefined),
        curation: {
          ...subject,
          decision: verdict.decision,
          reason: verdict.reason,
          rule: verdict.rule,
          source: verdict.source,
        },
      },
      verdict.message,
    );
  }

  hides(subject: CurationSubject): boolean {
    const policy = this.#policy;
    if (policy.mode !== 'enforce') return false;
    // A listing stays whole when the policy could not load: the download check refuses (closed)
    // or lets through (open) each file, and an empty listing would read as "no such package".
    if (policy.unavailable !== undefined) return false;
    // A quarantine hold is not hidden (types.ts: the digest is rarely known in a listing): the
    // download's 403 says when it is released.
    return this.#listed(subject, 'allow')?.refuse === true;
  }

  timeSettings(registry: CurationRegistry): RegistryTimeSettings {
    return this.#policy.times[registry];
  }

  recordFirstSeen(subject: CurationSubject): number | undefined {
    // Recorded whatever the settings: quarantine or an age turned on later counts from the
    // artifact's real first fill, not from the first request after the reload (trial 30 F2).
    const store = this.#store;
    if (store === undefined) return undefined;
    try {
      return store.record(firstSeenKey(subject), this.#now());
    } catch (err) {
      this.#log.warn(
        { error: err instanceof Error ? err.message : String(err), curation: { ...subject } },
        'curation: could not record a first-seen time',
      );
      return undefined;
    }
  }

  /** The first-seen time of `subject` (ms), undefined when never seen, no store or it failed. */
  firstSeen(subject: CurationSubject): number | undefined {
    const store = this.#store;
    if (store === undefined) return undefined;
    try {
      return store.get(firstSeenKey(subject));
    } catch (err) {
      this.#log.warn(
        { error: err instanceof Error ? err.message : String(err), curation: { ...subject } },
        'curation: could not read a first-seen time',
      );
      return undefined;
    }
  }

  held(subject: CurationSubject): QuarantineHold | undefined {
    const times = this.#policy.times[subject.registry];
    if (times.quarantine === 'off') return undefined;
    const firstSeen = this.firstSeen(subject);
    if (firstSeen === undefined) return undefined;
    const until = firstSeen + times.quarantineTtl * 1000;
    if (until <= this.#now()) return undefined;
    return {
      mode: times.quarantine,
      firstSeen,
      until,
      refuse: times.quarantine === 'enforce' && !this.#bypassed(),
    };
  }

  /** The verdict of a quarantine hold on `subject` (src/curation/quarantine.ts), if held. */
  #quarantined(subject: CurationSubject): CurationVerdict | undefined {
    const hold = this.held(subject);
    return hold === undefined ? undefined : quarantineVerdict(describeSubject(subject), hold);
  }

  /** nora_quarantine_holds_total: a held download, by the mode that held it. */
  #countHold(subject: CurationSubject, verdict: CurationVerdict): void {
    const mode = this.#policy.times[subject.registry].quarantine;
    if (mode !== 'off' && verdict.decision !== 'bypassed')
      this.#holds.inc({ registry: subject.registry, mode });
  }

  viewKey(): string {
    if (this.#policy.mode === 'off') return '';
    // A min release age lets versions in as time passes: a filtered answer is kept a minute.
    const aged = Object.values(this.#policy.times).some((t) => t.minReleaseAge > 0);
    const minute = aged ? `t${Math.floor(this.#now() / 60_000)}` : '';
    return `c${this.#epoch}${minute}${this.#bypassed() ? 'b' : ''}`;
  }

  /**
   * Judges the request's bypass header once, after authentication (app.ts, preHandler): granted
   * when the token is right and, with auth on, the principal is authenticated (`authenticated`);
   * the route's own read check still applies. A wrong token, or the right one from an anonymous
   * client under auth, is logged (WARN, never the token) once per request with `who`.
   */
  admitBypass(store: CurationRequest, who: BypassWho, authenticated: boolean | undefined): void {
    store.who = who;
    if (store.bypassToken === undefined || this.#policy.mode === 'off') return;
    const right = this.#tokenMatches(store.bypassToken);
    store.granted = right && authenticated !== false;
    if (store.granted) return;
    this.#log.warn(
      { ...who, curation: { bypass: right ? 'anonymous' : 'wrong_token' } },
      right
        ? 'curation bypass refused: the bypass token needs an authenticated user when auth is on'
        : 'curation bypass refused: wrong X-Nora-Bypass-Token',
    );
  }

  #bypassed(): boolean {
    const store = curationRequest.getStore();
    if (store?.granted !== undefined) return store.granted;
    return this.#tokenMatches(store?.bypassToken);
  }

  #tokenMatches(sent: string | undefined): boolean {
    const expected = this.#policy.bypassToken;
    if (expected === undefined || sent === undefined) return false;
    const a = Buffer.from(sent);
    const b = Buffer.from(expected);
    return a.length === b.length && timingSafeEqual(a, b);
  }
}

/**
 * SIGHUP: loads the policy `config` describes and puts it in force, or keeps the running one
 * when a list cannot be read or parsed. Returns the error's text when it kept the old policy.
 */
export function reloadCuration(
  engine: CurationEngine,
  config: CurationConfig,
  env: NodeJS.ProcessEnv,
  log: Logger,
): string | undefined {
  try {
    engine.replace(loadPolicy(config, env, true));
    return undefined;
  } catch (err) {
    const error = err instanceof PolicyError || err instanceof Error ? err.message : String(err);
    log.warn({ error }, `curation policy reload failed, keeping the previous policy: ${error}`);
    return error;
  }
}
