/**
 * The one place a request becomes an audit event: `RequestAuditor.answered`, called by
 * `recordAnswer` (src/http/hooks.ts) for every answered request — Fastify's and the answer
 * memo's alike — where the `nora_http_*` metrics are counted.
 *
 * What a request was is read from its method, status and path, refined by what the code that
 * answered it noted on the request's `AuditSlot` (an async-local store app.ts runs each request
 * in): the proxy engine's hit/miss accounting (`noteProxyResult`, called by ProxyMetrics.record,
 * which every format's proxy already calls), a replaced file (`noteOverwrite`), a token minted or
 * revoked (`noteAudit`).
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { IncomingMessage } from 'node:http';
import type { FormatName } from '../config/schema.ts';
import type { AuditAction, AuditEvent, AuditSink } from './types.ts';

/** What the handlers of one request noted for its audit event. */
export interface AuditSlot {
  /** The proxy lookups of the request: any fetch upstream wins over cache hits. */
  proxied?: 'cache_hit' | 'proxy_fetch';
  /** The write replaced an existing artifact (`overwrite` instead of `push`). */
  overwrote?: boolean;
  /** The digest the overwritten artifact had, when known: the event's detail. */
  replaced?: string;
  /**
   * What a successful write really was when its method says otherwise (a Cargo yank is a
   * DELETE, an unyank and `npm deprecate` a PUT, the PUT of an npm version unpublish a delete):
   * replaces `push`/`overwrite`/`delete`.
   */
  relabel?: Relabel;
  /** An event the handler names itself (tokens): replaces the method/status classification. */
  note?: AuditNote;
  /**
   * What the request stored, when its path does not say (a PyPI upload posts to the
   * repository's root, a crate to `api/v1/crates/new`): `<project>/<file>`, `<crate>@<version>`.
   */
  artifact?: string;
  /**
   * The repository whose answer served the request: a proxy's cache lookup or upstream fetch
   * (`noteProxyResult`), a group member that answered a read (`noteServedBy`).
   */
  servedBy?: string;
  /** The hosted repository the request's write landed in (`noteWriteTarget`). */
  storedIn?: string;
  /**
   * Who the request acted as when its credentials came in its body, not its headers
   * (`POST /api/tokens` with `username` and `password`, `npm login`): the event's actor.
   */
  actor?: string;
  /** The stored blobs the request's reads found damaged (`noteDamagedRead`), in order. */
  damaged?: DamagedRead[];
}

/**
 * A stored blob one of the request's reads found damaged (storage/blob-store.ts's read check).
 * `kept` and `settled` are filled in once its file is moved aside, before the request answers
 * (every read that finds damage waits for that move).
 */
export interface DamagedRead {
  /** `sha256:<hex>`. */
  readonly blob: string;
  /** Its file's key under `quarantine/` (storage/keys.ts quarantineKey), when kept. */
  kept?: string | undefined;
  /**
   * Whether its file left `blobs/` (false: already gone, or replaced by a good copy since the
   * read, so nothing was moved); undefined until the move is done, or when it failed (`error`).
   */
  removed?: boolean | undefined;
  /** Whether the move is done (false: still running, or it failed: then `error`). */
  settled: boolean;
  /** Why the file could not be kept, or could not be removed (an errno code or message). */
  error?: string | undefined;
}

/** What the log line of a damaged read found during a request names (RequestAuditor). */
export interface DamagedReadLine {
  readonly blob: string;
  readonly kept: string | undefined;
  /** DamagedRead.removed. */
  readonly removed: boolean | undefined;
  readonly error: string | undefined;
  readonly repository: string | undefined;
  readonly format: FormatName | undefined;
  readonly path: string;
  readonly method: string;
  readonly status: number;
  readonly reqId: string | undefined;
}

export interface AuditNote {
  readonly action: AuditAction;
  /** A public identifier (a token's id), never a secret. */
  readonly artifact?: string | undefined;
  readonly detail?: string | undefined;
}

/** What a write may be relabelled as (AuditSlot.relabel). */
export type Relabel = 'yank' | 'unyank' | 'deprecate' | 'delete';

/** The slot of the request being handled (app.ts `auditScope.run`); none outside requests. */
export const auditScope = new AsyncLocalStorage<AuditSlot>();

/** Where app.ts keeps a request's slot on node's request, for `recordAnswer` to read. */
export const AUDIT_SLOT: unique symbol = Symbol('nora.auditSlot');

/** The request's slot, if it has one. */
export function slotOf(req: IncomingMessage): AuditSlot | undefined {
  return (req as IncomingMessage & { [AUDIT_SLOT]?: AuditSlot })[AUDIT_SLOT];
}

/** Gives `req` a fresh slot and returns it. */
export function attachSlot(req: IncomingMessage, slot: AuditSlot = {}): AuditSlot {
  (req as IncomingMessage & { [AUDIT_SLOT]?: AuditSlot })[AUDIT_SLOT] = slot;
  return slot;
}

/**
 * One proxy cache lookup of the current request (ProxyMetrics.record's results): `miss` and
 * `coalesced` fetched from the upstream (`proxy_fetch`), `hit`, `stale` and `revalidated`
 * answered from the cache (`cache_hit`). No-op outside a request (background refreshes).
 */
export function noteProxyResult(result: string, repository?: string): void {
  const slot = auditScope.getStore();
  if (slot === undefined) return;
  if (result === 'miss' || result === 'coalesced') {
    slot.proxied = 'proxy_fetch';
    if (repository !== undefined) slot.servedBy = repository;
  } else if (
    (result === 'hit' || result === 'stale' || result === 'revalidated') &&
    !slot.proxied
  ) {
    slot.proxied = 'cache_hit';
    if (repository !== undefined) slot.servedBy = repository;
  }
}

/**
 * The member `repository` of a group answered the current request's read (GroupReader.first):
 * a pull's `member`, hosted or proxy. No-op outside a request.
 */
export function noteServedBy(repository: string): void {
  const slot = auditScope.getStore();
  if (slot !== undefined) slot.servedBy = repository;
}

/**
 * The current request's write replaced an existing artifact; `replaced`, the digest it had
 * (`sha256:<hex>`), becomes the event's detail (`replaced sha256:…`).
 */
export function noteOverwrite(replaced?: string): void {
  const slot = auditScope.getStore();
  if (slot === undefined) return;
  slot.overwrote = true;
  if (replaced !== undefined) slot.replaced = replaced;
}

/** The current request stored `artifact` (its path names an endpoint, not the artifact). */
export function noteArtifact(artifact: string): void {
  const slot = auditScope.getStore();
  if (slot !== undefined) slot.artifact = artifact;
}

/**
 * The current request writes to (or deletes from) the hosted repository `repository`
 * (RepositoryRegistry.requireWriteTarget, every format's write funnel): a group's write member
 * becomes the event's `member`.
 */
export function noteWriteTarget(repository: string): void {
  const slot = auditScope.getStore();
  if (slot !== undefined) slot.storedIn = repository;
}

/**
 * The current request authenticated `user` with a password in its body (the token API, npm
 * login): its event names that user as actor, not `anonymous` (the request had no header
 * credentials). Call only once the password is verified.
 */
export function noteActor(user: string): void {
  const slot = auditScope.getStore();
  if (slot !== undefined) slot.actor = user;
}

/**
 * The current request's write, if it succeeds, is `action` on `artifact` (`<crate>@<version>`,
 * `<package>@<versions>`, decoded): its path names an endpoint (`…/yank`, `@acme%2fgreet`).
 */
export function noteRelabel(action: Relabel, artifact: string): void {
  const slot = auditScope.getStore();
  if (slot === undefined) return;
  slot.relabel = action;
  slot.artifact = artifact;
}

/** The current request's event is `note` (token create/revoke), whatever its method. */
export function noteAudit(note: AuditNote): void {
  const slot = auditScope.getStore();
  if (slot !== undefined) slot.note = note;
}

/**
 * The current request's read found the stored blob `blob` damaged: returns the record its
 * audit event and log line are made from at its answer (RequestAuditor), for the caller to
 * complete once the file is moved aside; undefined outside a request (a background read), when
 * the caller reports it itself.
 */
export function noteDamagedRead(blob: string): DamagedRead | undefined {
  const slot = auditScope.getStore();
  if (slot === undefined || Object.isFrozen(slot)) return undefined;
  const read: DamagedRead = { blob, settled: false };
  (slot.damaged ??= []).push(read);
  return read;
}

/** What a path is: a repository of a format, and the artifact path below it. */
export interface AuditTarget {
  readonly repository: string;
  readonly format: FormatName;
  /** The path below the repository's root, without a leading `/`, never the query string. */
  readonly artifact: string;
}

/** Who sent an answered request, as the access log line names them. */
export interface AnsweredBy {
  /** A user's name, `anonymous`, or undefined when authentication failed or never ran. */
  readonly user: string | undefined;
  /** For a refused login: the existing user it claimed to be (never a password). */
  readonly userTried: string | undefined;
  /** Whether the request carried an Authorization header. */
  readonly credentials: boolean;
  /** A registry token's principal: the credential the token was issued from (its `tokenFrom`). */
  readonly tokenFrom?: string | undefined;
  readonly client: () => string | undefined;
}

/**
 * Paths below a repository that are the protocol's plumbing, not artifacts: OCI's `/v2/` ping,
 * token endpoint and catalog; npm's `/-/…` account, search and audit endpoints.
 */
function isPlumbing(format: FormatName, artifact: string): boolean {
  if (artifact === '') return true;
  if (format === 'docker') return artifact === 'token' || artifact === '_catalog';
  if (format === 'npm') return artifact.startsWith('-/');
  return false;
}

/** The event kinds of a request no handler noted, by method and status; undefined: none. */
function classify(
  method: string,
  status: number,
  slot: AuditSlot | undefined,
): AuditAction | undefined {
  if (method === 'GET') {
    // HEAD sends no bytes (clients probe with it before a push); 304 sends none either.
    if (status !== 200 && status !== 206) return undefined;
    return slot?.proxied ?? 'pull';
  }
  if (method === 'PUT' || method === 'POST') {
    // 202: an upload session opened or continued (OCI), not yet an artifact.
    if (status !== 200 && status !== 201 && status !== 204) return undefined;
    return slot?.overwrote === true ? 'overwrite' : 'push';
  }
  if (method === 'DELETE') {
    return status === 200 || status === 202 || status === 204 ? 'delete' : undefined;
  }
  return undefined;
}

/**
 * `new Date(ms).toISOString()`, reusing the last string while the millisecond is the same: pulls
 * come at tens of thousands a second (tens of events per millisecond), and a Date plus its ISO
 * string per event was a visible share of an answer-memo hit (docs/performance.md, "Memo hit").
 */
export class IsoClock {
  #ms = Number.NaN;
  #iso = '';

  /** The ISO 8601 timestamp (UTC, milliseconds) of epoch milliseconds `ms`. */
  at(ms: number): string {
    if (ms !== this.#ms) {
      this.#ms = ms;
      this.#iso = new Date(ms).toISOString();
    }
    return this.#iso;
  }
}

/**
 * Turns answered requests into audit events. `target` says which repository a path is in
 * (undefined: not a repository path — system routes, unknown repositories).
 */
export class RequestAuditor {
  readonly #sink: AuditSink;
  readonly #target: (pathname: string) => AuditTarget | undefined;
  readonly #isRepository: (name: string) => boolean;
  readonly #clock = new IsoClock();
  readonly #damagedLine: ((line: DamagedReadLine) => void) | undefined;

  /**
   * `isRepository` tells a configured repository's name from the format names some proxies
   * account their lookups under: only a repository is written as `member`. `damagedLine` writes
   * the log line of each damaged blob a request's read found (app.ts: at `error`).
   */
  constructor(
    sink: AuditSink,
    target: (pathname: string) => AuditTarget | undefined,
    isRepository: (name: string) => boolean = () => true,
    damagedLine?: (line: DamagedReadLine) => void,
  ) {
    this.#sink = sink;
    this.#target = target;
    this.#isRepository = isRepository;
    this.#damagedLine = damagedLine;
  }

  /**
   * Records the event of one answered request, if it is one, and an `integrity-fail` event (and
   * log line) per damaged blob its reads found, also for an answer cut short (`aborted`: a large
   * file whose damage shows at its end is cut; no other event is made of it). Never throws.
   */
  answered(
    pathname: string,
    method: string,
    status: number,
    requestId: string | undefined,
    by: AnsweredBy,
    slot: AuditSlot | undefined,
    aborted = false,
  ): void {
    if (slot?.damaged !== undefined)
      this.#damaged(slot.damaged, pathname, method, status, requestId, by);
    if (aborted) return;
    const note = slot?.note;
    let action: AuditAction | undefined;
    if (note !== undefined) {
      if (status >= 300) return;
      action = note.action;
    } else if (status === 401 && by.credentials && by.user === undefined) {
      action = 'login-failed';
    } else {
      action = classify(method, status, slot);
      if (action !== undefined && action !== 'pull' && slot?.relabel !== undefined)
        action = slot.relabel;
    }
    if (action === undefined || !this.#sink.wants(action)) return;
    const target = this.#target(pathname);
    const artifact = note?.artifact ?? slot?.artifact ?? target?.artifact ?? '';
    if (note === undefined && action !== 'login-failed') {
      if (target === undefined || isPlumbing(target.format, artifact)) return;
    }
    const actor =
      action === 'login-failed'
        ? (by.userTried ?? 'anonymous')
        : (slot?.actor ?? by.user ?? 'anonymous');
    // Who stored or served it: a write's hosted target; a read's answering member (a proxy
    // lookup's repository, the group member that had it).
    const noted =
      action === 'push' ||
      action === 'overwrite' ||
      action === 'delete' ||
      action === 'yank' ||
      action === 'unyank' ||
      action === 'deprecate' ||
      action === 'dist-tag'
        ? slot?.storedIn
        : action === 'proxy_fetch' || action === 'cache_hit' || action === 'pull'
          ? slot?.servedBy
          : undefined;
    const member =
      noted !== undefined &&
      target !== undefined &&
      noted !== target.repository &&
      this.#isRepository(noted)
        ? noted
        : undefined;
    const event: AuditEvent = {
      ts: this.#clock.at(Date.now()),
      action,
      actor,
      artifact,
      registry: target?.format ?? 'system',
      detail:
        note?.detail ??
        (action === 'overwrite' && slot?.replaced !== undefined
          ? `replaced ${slot.replaced}`
          : undefined),
      repository: target?.repository,
      member,
      format: target?.format,
      client: by.client(),
      status,
      method,
      reqId: requestId,
      // Whose registry token it was, when the actor is the token's subject (not a noted actor).
      ...(by.tokenFrom === undefined || slot?.actor !== undefined || action === 'login-failed'
        ? {}
        : { tokenFrom: by.tokenFrom }),
    };
    this.#sink.record(event);
  }

  /** The log line and `integrity-fail` event of each damaged blob a request's reads found. */
  #damaged(
    reads: readonly DamagedRead[],
    pathname: string,
    method: string,
    status: number,
    requestId: string | undefined,
    by: AnsweredBy,
  ): void {
    const target = this.#target(pathname);
    const path = target?.artifact ?? pathname;
    for (const read of reads) {
      this.#damagedLine?.({
        blob: read.blob,
        kept: read.kept,
        removed: read.removed,
        error: read.error,
        repository: target?.repository,
        format: target?.format,
        path,
        method,
        status,
        reqId: requestId,
      });
      if (!this.#sink.wants('integrity-fail')) continue;
      this.#sink.record({
        ts: this.#clock.at(Date.now()),
        action: 'integrity-fail',
        actor: by.user ?? 'anonymous',
        artifact: path,
        registry: target?.format ?? 'system',
        detail: damagedDetail(read.blob, read.kept, read.removed),
        repository: target?.repository,
        format: target?.format,
        client: by.client(),
        status,
        method,
        reqId: requestId,
      });
    }
  }
}

/**
 * An `integrity-fail` event's detail: the blob, and what became of its file
 * (`sha256:… failed its integrity check; its file moved to quarantine/sha256/….20261206T104832123Z`).
 */
export function damagedDetail(
  blob: string,
  kept: string | undefined,
  removed: boolean | undefined,
): string {
  return `${blob} failed its integrity check; ${damagedFate(kept, removed)}`;
}

/**
 * What became of a damaged blob's file (DamagedBlob: `kept`, `removed`; undefined: its removal
 * failed), for its log line and audit event.
 */
export function damagedFate(kept: string | undefined, removed: boolean | undefined): string {
  if (kept !== undefined) return `its file moved to ${kept}`;
  if (removed === true) return 'its file was removed from blobs/ but could not be kept (see error)';
  if (removed === false) {
    return 'its file was not moved: already gone, or replaced by a good copy since the read';
  }
  return 'its file could not be moved aside and is still in blobs/ (see error)';
}
