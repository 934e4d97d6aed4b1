/**
 * The audit log and activity feed contract (NORA §3.8): what happened, who did it, to what.
 *
 * - Formats, the proxy engine and the HTTP layer hand events to an `AuditSink` (`record`), which
 *   never throws, never blocks and costs an array push: pulls run at tens of thousands a second.
 * - The sink keeps the newest events in memory (the dashboard's activity feed, `ActivityFeed`)
 *   and, per `[audit] log`, appends them as JSON lines to `audit.jsonl` and/or stdout in batches.
 *
 * Where events come from (one choke point per kind; docs/audit.md):
 * every answered HTTP request passes `recordAnswer` (src/http/hooks.ts, answer-memo hits
 * included), which turns a successful push / pull / delete into an event; the proxy engine's
 * hit/miss accounting marks the request's event `cache_hit` / `proxy_fetch`; retention applies,
 * token create/revoke and failed logins are recorded where they happen.
 */
import type { FormatName } from '../config/schema.ts';

/**
 * NORA's actions, plus ours (`token-create`, `token-revoke`, `login-failed`, `integrity-fail`:
 * a stored blob a read found damaged, its file moved to `quarantine/`; `dist-tag`: an npm
 * dist-tag set or removed, `latest` among them). NORA spells
 * `retention-apply` with a dash and the others with underscores; kept as NORA writes them so
 * tools reading NORA's file read ours.
 */
export const AUDIT_ACTIONS = [
  'push',
  'pull',
  'delete',
  'cache_hit',
  'proxy_fetch',
  'overwrite',
  'retention-apply',
  'yank',
  'unyank',
  'deprecate',
  'token-create',
  'token-revoke',
  'login-failed',
  'integrity-fail',
  'dist-tag',
] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

/**
 * The default set (`[audit] actions` absent): NORA's seven actions, and ours that split writes
 * NORA logs as `push` or `delete` (`yank`, `unyank`, `deprecate`: logged by default as those
 * were), `integrity-fail` (rare, and what an operator must see) and `dist-tag` (moving `latest`
 * is how a version reaches users); not the token and login
 * ones.
 */
export const DEFAULT_AUDIT_ACTIONS: readonly AuditAction[] = [
  'push',
  'pull',
  'delete',
  'cache_hit',
  'proxy_fetch',
  'overwrite',
  'retention-apply',
  'yank',
  'unyank',
  'deprecate',
  'integrity-fail',
  'dist-tag',
];

/**
 * One audit event, one JSON line of `audit.jsonl` (keys in this order; absent optional fields
 * are left out of the line, never written as null).
 *
 * NORA's fields: `ts`, `action`, `actor`, `artifact`, `registry`, `detail`. Ours: `repository`,
 * `member`, `format`, `client`, `status`, `method`, `reqId`.
 *
 * Never holds a secret: `artifact` is a request path without its query string, `actor` a user
 * name (never a token or password), `detail` a short fixed-vocabulary text.
 */
export interface AuditEvent {
  /** RFC 3339 UTC time with milliseconds, e.g. `2026-12-08T10:15:30.123Z`. */
  readonly ts: string;
  readonly action: AuditAction;
  /** The authenticated principal's user name, or `anonymous`. */
  readonly actor: string;
  /**
   * What was touched, in the format's own path below its repository: `lodash/-/lodash-4.17.21.tgz`,
   * `v2/library/alpine/manifests/3.20`, `com/example/lib/1.0/lib-1.0.jar`; for retention the
   * rule's name and version (`@corp/pkg@1.0.0`); for tokens the token's public id.
   */
  readonly artifact: string;
  /**
   * NORA's `registry`: the format's name (`oci`, `npm`, `pypi`, `maven`, `cargo`, `go`, `raw`,
   * `helm`), or `system` for events outside any format (tokens, logins).
   */
  readonly registry: string;
  /** Free text: why (`retention rule keep_last=3`), what (`HEAD`), never a secret. */
  readonly detail?: string | undefined;
  /**
   * The configured repository the client addressed (`npm`, `npm-proxy`, `raw-team`): for a
   * request through a group's mount, the group.
   */
  readonly repository?: string | undefined;
  /**
   * The member of the group `repository` that stored or served the artifact (`npm-hosted` for a
   * publish through `npm`, `npm-proxy` for a proxy fetch), when it is known and not
   * `repository` itself; absent otherwise.
   */
  readonly member?: string | undefined;
  /** The format, as in `registry` (kept separate: `registry` may become a repository in NORA). */
  readonly format?: FormatName | undefined;
  /** The client's address (as the access log names it: a trusted proxy's X-Forwarded-For). */
  readonly client?: string | undefined;
  /** The HTTP status answered, for events of a request. */
  readonly status?: number | undefined;
  /** The HTTP method, for events of a request. */
  readonly method?: string | undefined;
  /** The request id (`X-Request-Id`), to join an event with its access log line. */
  readonly reqId?: string | undefined;
  /**
   * For a request authorised by a Docker registry token: the credential the token was issued
   * from — `api-token <API token id>`, `password`, or `oidc <issuer> <sub>` (`actor` is its subject).
   */
  readonly tokenFrom?: string | undefined;
}

/**
 * Where events go. `record` never throws, never waits and is O(1): it pushes onto a bounded
 * queue (when full the event is dropped and `nora_audit_dropped_total` counts it) and onto the
 * activity ring. A sink whose `[audit] log` is `off` keeps the activity ring only.
 */
export interface AuditSink {
  record(event: AuditEvent): void;
  /** Whether `action` is recorded at all (`[audit] actions`): lets callers skip building events. */
  wants(action: AuditAction): boolean;
}

/** A filter for the activity feed. */
export interface ActivityFilter {
  /** Only events of this format (`registry`). */
  readonly format?: string | undefined;
  /** Only these actions. */
  readonly actions?: readonly AuditAction[] | undefined;
}

/**
 * The dashboard's activity feed (NORA: the last 50 events, in memory, lost on restart). Read by
 * the web UI (src/ui/) from the app/format context (`FormatContext.activity`).
 */
export interface ActivityFeed {
  /** How many events the ring keeps (50, NORA's). */
  readonly capacity: number;
  /**
   * The newest events first, at most `limit` (default and maximum: `capacity`), optionally
   * filtered. A fresh array; the events are frozen.
   */
  recent(limit?: number, filter?: ActivityFilter): readonly AuditEvent[];
}

/** What `[audit]` configures (config/schema.ts `auditSchema`). */
export interface AuditSettings {
  /** `file` (default), `stdout`, `both`, `off` (`NORA_AUDIT_LOG`). */
  readonly log: 'file' | 'stdout' | 'both' | 'off';
  /** The JSONL file; default `<storage path>/audit.jsonl` (`NORA_AUDIT_PATH`). */
  readonly path: string;
  /** Rotate when the file would pass this size, in MiB; 0 = never (NORA's behaviour). */
  readonly maxSizeMb: number;
  /** Rotated files kept (`audit.jsonl.1` newest … `audit.jsonl.<keep>`). */
  readonly keep: number;
  readonly actions: readonly AuditAction[];
}
