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
}

/**
 * `decision` label of nora_curation_decisions_total: allowed (no rule refused it), blocked
 * (refused: enforce), audited (a rule would refuse it: audit mode served it), bypassed (a rule
 * would refuse it: the request's bypass token let it through).
 */
export type CurationDecision = 'allowed' | 'blocked' | 'audited' | 'bypassed';

/**
 * `reason` label: blocklist (a blocklist rule), allowlist (not on the allowlist of its
 * registry), integrity (allowlisted, but the integrity differs or is required and unknown),
 * policy_unavailable (a list could not be read or parsed and on_failure is closed), none.
 */
export type CurationReason =
  'blocklist' | 'allowlist' | 'integrity' | 'policy_unavailable' | 'none';

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
  /** Whether a proxied listing must leave this version out (enforce and refused; not counted). */
  hides(subject: CurationSubject): boolean;
  /**
   * A short key for caches of filtered answers: changes whenever `hides` may answer otherwise
   * (a reload, the request's bypass token). '' while curation is off.
   */
  viewKey(): string;
}
