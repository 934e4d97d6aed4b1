/**
 * The curation contract: what every format's proxy path asks before it fetches or serves a
 * proxied artifact, and before it asks an upstream about a name at all. One gate per app
 * (`FormatContext.curation`, built in app.ts from `[curation]`, replaced in place on SIGHUP);
 * the engine behind it is src/curation/engine.ts. Hosted artifacts are trusted: a format calls
 * the gate only on the proxy side of its reads (a proxy repository, a group's proxy members).
 *
 * How a format uses it (docs/curation.md "Wiring a format"):
 *
 * 1. Before asking any upstream about `name` (metadata or file): `gate.isInternal(registry, name)`
 *    → true: do not ask; a proxy answers the protocol's 404, a group answers from its hosted
 *    members only (dependency-confusion defence, active in every mode, also `off`).
 * 2. Before serving a proxied artifact file (fetched now or already cached):
 *    `gate.guard({ registry, name, version })`: throws a `RegistryError` DENIED (403, rendered
 *    by the format's own error handler, message = the reason) when the policy refuses it
 *    (enforce); in audit it logs and counts and returns. Call it once per download: it counts.
 * 3. In proxied listings (npm packument versions, PyPI simple-index files, Cargo index lines,
 *    tags/versions lists where the protocol has them): drop each version for which
 *    `gate.hides({ registry, name, version })` is true (enforce only; never counted), and key
 *    any cache of such filtered answers by `gate.viewKey()`, which changes on every applied
 *    reload and for a request carrying a valid bypass token.
 *
 * 4. On a proxy fill (an artifact fetched from an upstream and stored in the cache now, not a
 *    cache hit): `gate.recordFirstSeen({ registry, name, version, digest, publishedAt })` once
 *    the bytes are stored, before step 2's `guard` for that download. Every proxy format, by its
 *    proxy path (quarantine, below), whatever the curation settings (a quarantine or an age
 *    turned on later counts from the real first fill); the store batches its writes.
 *
 * Two time-based controls sit beside the lists (docs/curation.md):
 *
 * - Minimum release age (`min_release_age`, per registry `[curation.<registry>]`): a version
 *   whose publish time is less than the age ago is refused by `guard` (reason `min_release_age`,
 *   following `mode`: enforce refuses, audit logs and counts) and hidden by `hides` (enforce).
 *   The publish time is `subject.publishedAt` when the format has a trusted upstream date (npm
 *   packument `time[version]`, PyPI `upload-time`, Go `.info` `Time`, Helm index `created`);
 *   otherwise it falls back to the first-seen time in the `FirstSeenStore` (by digest when known,
 *   else name@version). A version without either: `guard` records first-seen now (the cooldown
 *   starts at the first download, so a refused download still starts its clock) and refuses it.
 *   Formats call `guard` for such a version only once the upstream has it (before the fetch
 *   they ask `refusedBeforeFetch`, src/formats/curation-before-fetch.ts), so a missing artifact
 *   stays the protocol's 404 and records nothing;
 *   `hides` keeps it listed (an unseen version is not known to be young, and hiding every unseen
 *   version would empty a cold cache's listings).
 * - Digest quarantine (`quarantine` = off|observe|enforce, `quarantine_ttl`, per registry):
 *   independent of `mode`. An artifact is *held* while its first-seen time (recorded by step 4)
 *   is less than the TTL ago. `held` says so; `guard` acts on it: enforce refuses (403 DENIED,
 *   reason `quarantine`, the message names when it is released), observe serves and logs; both
 *   count `nora_quarantine_holds_total{registry,mode}`. A held artifact is not hidden from
 *   listings (its digest is rarely known there): clients get the 403 naming the release time.
 *   The bypass token passes both controls as it passes the lists (counted `bypassed`).
 *
 * The bypass token (`X-Nora-Bypass-Token`, NORA_CURATION_BYPASS_TOKEN) is read from the request
 * being served by the gate itself (app.ts runs each request inside `curationRequest`'s context,
 * src/curation/context.ts), so formats pass no request to it. Requests carrying the header are
 * never answered from, nor kept in, the answer memo (http/answer-memo.ts).
 */
import type { FormatName } from '../config/schema.ts';

/** The registry a subject belongs to: a format name (`docker` for OCI images). */
export type CurationRegistry = FormatName;

/** `[curation] mode`: off (only internal namespaces apply), audit (log + count), enforce (refuse). */
export type CurationMode = 'off' | 'audit' | 'enforce';

/** What is asked about. */
export interface CurationSubject {
  readonly registry: CurationRegistry;
  /**
   * The name as the protocol spells it: npm `@scope/name`, PyPI project (any spelling; the
   * engine compares PEP 503-normalized), Cargo crate (compared case-insensitively, `-` = `_`),
   * Maven `groupId:artifactId`, Go module path, Docker image `library/alpine`, Helm chart name.
   */
  readonly name: string;
  /**
   * The version (npm/Cargo/Helm SemVer, PyPI PEP 440, Maven, Go `v1.2.3`, Docker tag). Absent:
   * a name-level question (a listing, a manifest by digest): only rules with version `*` match.
   */
  readonly version?: string | undefined;
  /**
   * The artifact's integrity when the format knows it before serving (npm `sha512-…` SRI,
   * `sha256:<hex>`): compared with an allowlist entry's `integrity`.
   */
  readonly integrity?: string | undefined;
  /**
   * When the upstream says this version was published, ms since the epoch, only where the format
   * has a trusted date: npm packument `time[version]`, PyPI `upload-time` (PEP 700 JSON simple
   * API, or the JSON API's `upload_time_iso_8601`; the earliest of the version's files), Go
   * `.info` `Time`, Helm index.yaml `created`. Absent: the min release age falls back to the
   * first-seen store. Never a cache's own timestamp.
   */
  readonly publishedAt?: number | undefined;
  /**
   * The artifact's content digest when known (`sha256:<hex>`, lower-case hex; npm may pass its
   * `sha512-…` SRI): the quarantine's key and the first-seen store's preferred key. Formats pass
   * the digest of the bytes they stored (recordFirstSeen) or will serve (guard).
   */
  readonly digest?: string | undefined;
}

/** `[curation] quarantine`: off, observe (log + count, serve), enforce (refuse while held). */
export type QuarantineMode = 'off' | 'observe' | 'enforce';

/**
 * One registry's time-based settings after `[curation.<registry>]` overrides `[curation]`
 * (src/curation/settings.ts registrySettings). Seconds; 0 = off.
 */
export interface RegistryTimeSettings {
  readonly minReleaseAge: number;
  readonly quarantine: QuarantineMode;
  readonly quarantineTtl: number;
}

/**
 * What quarantine says of a held artifact (`CurationGate.held`). Times in ms since the epoch.
 */
export interface QuarantineHold {
  readonly mode: 'observe' | 'enforce';
  /** When NORA first saw it (the FirstSeenStore's time). */
  readonly firstSeen: number;
  /** When the hold ends: firstSeen + the registry's quarantine_ttl. */
  readonly until: number;
  /** True only in enforce without a granted bypass: `guard` refuses it. */
  readonly refuse: boolean;
}

/**
 * The key of a first-seen record. `name` as the engine compares it (PyPI PEP 503-normalized,
 * Cargo lower-case with `_`: the gate normalizes before calling the store); '' for an unknown
 * version or digest.
 */
export interface FirstSeenKey {
  readonly registry: CurationRegistry;
  readonly name: string;
  readonly version: string;
  readonly digest: string;
}

/**
 * When NORA first saw a proxied artifact: the quarantine's clock and the min release age's
 * fallback where a format has no trusted upstream date. SQLite-backed (a table in the metadata
 * database, synchronous like node:sqlite: the gate asks it inside `guard`/`hides`); times in ms
 * since the epoch. Only the gate calls it; formats call `CurationGate.recordFirstSeen`.
 * Rows older than 90 days (FIRST_SEEN_KEEP_MS) are pruned (start-up and hourly): an artifact
 * fetched again after that starts a new first-seen (cache hits never record, so a cached
 * artifact is not re-held).
 */
export interface FirstSeenStore {
  /**
   * Records `at` for `key` unless a row for the same key exists; returns the first-seen time in
   * force (the existing row's, or `at`). Idempotent: a second fill of the same bytes keeps the
   * first time.
   */
  record(key: FirstSeenKey, at: number): number;
  /**
   * The first-seen time of `key`, or undefined (never seen). With `key.digest` set: the earliest
   * row with that registry and digest (the same bytes under another name or version share one
   * clock); else the earliest row of registry + name + version (any digest).
   */
  get(key: FirstSeenKey): number | undefined;
  /** Deletes rows first seen before `before` (ms); returns how many. */
  prune(before: number): number;
}

/** First-seen rows are kept 90 days (NORA's), ms. */
export const FIRST_SEEN_KEEP_MS = 90 * 86_400_000;

/**
 * `decision` label of nora_curation_decisions_total: allowed (no rule refused it), blocked
 * (refused: enforce), audited (a rule would refuse it: audit mode served it), bypassed (a rule
 * would refuse it: the request's bypass token let it through).
 */
export type CurationDecision = 'allowed' | 'blocked' | 'audited' | 'bypassed';

/**
 * `reason` label: blocklist (a blocklist rule), allowlist (not on the allowlist of its
 * registry), integrity (allowlisted, but the integrity differs or is required and unknown),
 * policy_unavailable (a list could not be read or parsed and on_failure is closed),
 * min_release_age (published, or first seen, less than the registry's min_release_age ago),
 * quarantine (held: first seen less than quarantine_ttl ago; the verdict of a quarantine hold in
 * observe is `audited`), none. Lists are asked first, then min release age, then quarantine.
 */
export type CurationReason =
  | 'blocklist'
  | 'allowlist'
  | 'integrity'
  | 'policy_unavailable'
  | 'min_release_age'
  | 'quarantine'
  | 'none';

export interface CurationVerdict {
  readonly decision: CurationDecision;
  readonly reason: CurationReason;
  /** True only when the artifact must not be served (enforce, not bypassed). */
  readonly refuse: boolean;
  /**
   * One line for clients and logs: `curation: npm left-pad@1.3.0 is blocked by blocklist rule 2
   * (left-pad 1.3.0): compromised release`. Empty for `allowed` without a rule.
   */
  readonly message: string;
  /** The rule that decided (list kind and number, as clients are told), if any. */
  readonly rule?: string | undefined;
  /** Where that rule is (`/etc/nora/blocklist.json:4`): logged, never sent to clients. */
  readonly source?: string | undefined;
  /**
   * When a time-based refusal ends, ms since the epoch: the min release age's `available from`,
   * the quarantine's release time. What the web UI shows in its language (src/ui/curation.ts).
   */
  readonly until?: number | undefined;
  /**
   * A blocklist rule's `reason` as the operator wrote it (the part of `message` after the rule),
   * shown as written in every language; absent for the engine's own reasons.
   */
  readonly note?: string | undefined;
}

/** The gate formats hold (`FormatContext.curation`). Never throws except `guard`'s refusal. */
export interface CurationGate {
  /** The running mode. */
  readonly mode: () => CurationMode;
  /**
   * True when `name` matches `[curation] internal_namespaces` for `registry`: never send it to
   * an upstream (every mode).
   */
  isInternal(registry: CurationRegistry, name: string): boolean;
  /** The decision for one proxied artifact (not counted, not logged: `explain`, tests). */
  decide(subject: CurationSubject): CurationVerdict;
  /**
   * The download check: decides, counts (nora_curation_decisions_total), logs a refusal or an
   * audited/bypassed pass, and throws `RegistryError('DENIED', verdict.message)` when refused.
   */
  guard(subject: CurationSubject): CurationVerdict;
  /**
   * `guard` for the quarantine alone (quarantineCheck, after a fill): counts, logs and throws
   * DENIED for a hold in enforce; the lists and the min release age are not judged again (the
   * subject after a fill carries no publish time, and they were judged before the fetch).
   */
  guardHold(subject: CurationSubject): CurationVerdict;
  /**
   * Whether a proxied listing must leave this version out (enforce and refused by a list or by
   * the min release age with a known publish or first-seen time; never for quarantine; not
   * counted). Pass `publishedAt` where the listing carries it (npm `time`, PyPI `upload-time`,
   * Helm `created`; Go `@v/list` has none: the Go proxy asks `.info` or the first-seen store).
   */
  hides(subject: CurationSubject): boolean;
  /**
   * A proxy fill stored `subject`'s artifact (step 4): records now as its first-seen time in the
   * FirstSeenStore (keyed by digest when `subject.digest` is set, else name@version), unless one
   * is recorded. Records only when the registry has quarantine on or a min release age and a
   * store is attached; returns the first-seen time in force, or undefined when it recorded
   * nothing. Never throws (a store error is logged, the download goes on). Not counted.
   */
  recordFirstSeen(subject: CurationSubject): number | undefined;
  /**
   * Whether quarantine holds `subject` now (its first-seen, by digest else name@version, is less
   * than the registry's quarantine_ttl ago): undefined when not held (quarantine off for the
   * registry, never seen, or released). In observe the hold is reported with `refuse` false (the
   * artifact is served, `guard` logs and counts it); in enforce `refuse` is true unless the
   * request carries a granted bypass token. Not counted, not logged (explain, tests, `guard`).
   */
  held(subject: CurationSubject): QuarantineHold | undefined;
  /** One registry's min release age and quarantine settings in force (explain, formats). */
  timeSettings(registry: CurationRegistry): RegistryTimeSettings;
  /**
   * A short key for caches of filtered answers: changes whenever `hides` may answer otherwise
   * (a reload, the request's bypass token). '' while curation is off.
   */
  viewKey(): string;
}
