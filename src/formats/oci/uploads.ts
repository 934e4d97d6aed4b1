/**
 * Blob upload sessions (POST → PATCH… → PUT). A session is a SQL row plus a spool file; bytes are
 * appended as they stream in and hashed incrementally (the sha256 state lives in memory per
 * session). When that state is unknown — after a restart, a failed chunk, or a sha512 digest — the
 * spool file is re-hashed at finalize. Nothing reaches the blob store before its digest verifies.
 *
 * Crash safety: the row's `offset` is the session's committed length and the only offset ever
 * reported. A chunk's bytes are fsynced before the row moves past them, so the first `offset`
 * bytes of the spool are always durable; bytes past it (a PATCH cut by a crash or kill -9) were
 * never acknowledged and are cut off before the session is written to or finalised again. A
 * spool shorter than its offset (storage that lost synced bytes) cannot be resumed: the session
 * is dropped (BLOB_UPLOAD_UNKNOWN) and the client starts over.
 */
import { randomInt, randomUUID, type Hash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createHasher, formatDigest, parseDigest } from '../../core/digest.ts';
import { errnoCode, RegistryError } from '../../core/errors.ts';
import { KeyedMutex } from '../../core/keyed-mutex.ts';
import type { Logger } from '../../core/logger.ts';
import type { UploadSessionInfo } from '../../core/upload-sessions.ts';
import type { BlobStore } from '../../storage/blob-store.ts';
import type { OciStore, OciUploadsTable } from './store.ts';

export interface UploadLimits {
  readonly maxSessions: number;
  /** Sessions one client (a user, or an address for anonymous clients) may hold at once. */
  readonly maxSessionsPerClient: number;
  readonly maxSessionBytes: number;
  /** Per-request body bound (server.body_limit_mb). */
  readonly maxRequestBytes: number;
  readonly ttlSeconds: number;
  /**
   * Seconds without a byte after which a session of a client at its limit is cancelled to make
   * room for that client's next one ([docker] upload_session_idle).
   */
  readonly idleSeconds: number;
}

export interface UploadStatus {
  readonly uuid: string;
  readonly offset: number;
}

interface LiveState {
  /** sha256 of bytes [0, offset); undefined when it must be recomputed from the spool. */
  hash: Hash | undefined;
}

export class UploadManager {
  readonly #store: OciStore;
  readonly #blobs: BlobStore;
  readonly #limits: () => UploadLimits;
  readonly #live = new Map<string, LiveState>();
  readonly #locks = new KeyedMutex();
  /**
   * Sessions with a PATCH/PUT body streaming in (their row moves only when the body ends). A
   * stalled body is ended by `[server] body_timeout` (60 s), so none stays here without bytes.
   */
  readonly #inFlight = new Set<string>();
  readonly #log: Logger | undefined;

  /** `log`: where a session cancelled to make room (#reclaimIdle) is reported, one line each. */
  constructor(store: OciStore, blobs: BlobStore, limits: () => UploadLimits, log?: Logger) {
    this.#store = store;
    this.#blobs = blobs;
    this.#limits = limits;
    this.#log = log;
  }

  /**
   * Opens a session for `client` (`user:<name>`, or `address:<key>` for an anonymous client).
   * TOOMANYREQUESTS (429) when the server holds `maxSessions` sessions, or `client` holds
   * `maxSessionsPerClient` of them: one client's abandoned or hostile sessions cannot take every
   * other client's pushes down until they are purged (upload_session_ttl).
   *
   * Before refusing, `client`'s own sessions idle for `idleSeconds` (no byte received, no
   * request streaming into them; 10 s for a session that has acknowledged no byte at all, see
   * reclaimableAt) are cancelled, least recently used first, as many as make
   * room: a push killed mid-upload (a cancelled CI job) leaves sessions nobody can finish or
   * cancel — their UUIDs died with the process — and a shared CI account would otherwise be
   * locked out of every push until the TTL. Only the client's own sessions are touched; another
   * client's are never cancelled to make room.
   */
  async start(repo: string, name: string, client: string): Promise<UploadStatus> {
    const limits = this.#limits();
    let open = await this.#store.countUploads(client);
    const excess = Math.max(
      open.client - limits.maxSessionsPerClient + 1,
      open.all - limits.maxSessions + 1,
    );
    if (excess > 0 && (await this.#reclaimIdle(client, excess, limits)) > 0) {
      open = await this.#store.countUploads(client);
    }
    if (open.client >= limits.maxSessionsPerClient) {
      throw await this.#clientFull(client, open.client, limits);
    }
    if (open.all >= limits.maxSessions) {
      throw tooMany(`too many concurrent upload sessions (max ${limits.maxSessions})`);
    }
    const uuid = randomUUID();
    const spool = await this.#blobs.spoolPath('uploads');
    await fs.writeFile(spool, '', { flag: 'wx' });
    const now = Date.now();
    try {
      await this.#store.createUpload({
        uuid,
        repo,
        name,
        offset: 0,
        spool_path: spool,
        started_at: now,
        updated_at: now,
        client,
      });
    } catch (err) {
      // No session row (a read-only, busy or full database): the client never learns this
      // UUID, so nothing would ever write to or cancel the spool file. Leave none behind
      // (trial 26 opsR F2: one empty file per refused POST, a retrying client multiplied them).
      await fs.rm(spool, { force: true }).catch(() => undefined);
      throw err;
    }
    this.#live.set(uuid, { hash: createHasher('sha256') });
    return { uuid, offset: 0 };
  }

  /**
   * The session, or BLOB_UPLOAD_UNKNOWN when it does not exist under this repo/name or was
   * opened by another user than `client` (see #row). Every method taking `client` checks it.
   */
  async status(repo: string, name: string, uuid: string, client?: string): Promise<UploadStatus> {
    const row = await this.#row(repo, name, uuid, client);
    return { uuid, offset: row.offset };
  }

  /**
   * Appends `body` at `start` (the Content-Range start, or the current offset when absent).
   * A start other than the current offset is out of order → 416 with the current Range.
   */
  async append(
    repo: string,
    name: string,
    uuid: string,
    body: Readable,
    range: { readonly start: number; readonly end: number } | undefined,
    declaredLength: number | undefined,
    client?: string,
  ): Promise<UploadStatus> {
    return this.#locks.run(uuid, async () => {
      const row = await this.#resumable(repo, name, uuid, client);
      if (range !== undefined) {
        if (range.start !== row.offset) throw outOfOrder(row.offset);
        if (declaredLength !== undefined && range.end - range.start + 1 !== declaredLength) {
          throw rangeLengthMismatch(range, declaredLength, row.offset);
        }
      }
      const offset = await this.#write(row, body);
      return { uuid, offset };
    });
  }

  /** Appends an optional last chunk, verifies `digest`, commits the blob; returns its size. */
  async finish(
    repo: string,
    name: string,
    uuid: string,
    digestText: string,
    body: Readable | undefined,
    range: { readonly start: number; readonly end: number } | undefined,
    client?: string,
  ): Promise<{ digest: string; size: number }> {
    const expected = parseDigest(digestText);
    return this.#locks.run(uuid, async () => {
      const row = await this.#resumable(repo, name, uuid, client);
      if (range !== undefined && range.start !== row.offset) throw outOfOrder(row.offset);
      const size = body === undefined ? row.offset : await this.#write(row, body);
      const live = this.#live.get(uuid);
      const hash = expected.algorithm === 'sha256' ? live?.hash : undefined;
      // A Hash can be finalised once: forget it so a retry after a failed commit re-hashes.
      if (live) live.hash = undefined;
      const hex =
        hash !== undefined
          ? hash.digest('hex')
          : await hashFile(row.spool_path, expected.algorithm);
      const actual = formatDigest({ algorithm: expected.algorithm, hex });
      if (actual !== formatDigest(expected)) {
        await this.#discard(row);
        throw new RegistryError(
          'DIGEST_INVALID',
          `digest mismatch: expected ${formatDigest(expected)}, got ${actual}`,
          {
            protocolCode: 'DIGEST_INVALID',
          },
        );
      }
      await this.#blobs.commitFile(row.spool_path, expected, size);
      await this.#store.deleteUpload(uuid);
      this.#live.delete(uuid);
      return { digest: actual, size };
    });
  }

  /** Whether `row` may be reclaimed at `now`: no body streaming into it, idle past reclaimableAt. */
  #idle(row: OciUploadsTable, now: number, limits: UploadLimits): boolean {
    return !this.#inFlight.has(row.uuid) && now >= reclaimableAt(row, limits);
  }

  /** Cancels up to `count` of `client`'s idle sessions, least recently used first; how many. */
  async #reclaimIdle(client: string, count: number, limits: UploadLimits): Promise<number> {
    const now = Date.now();
    const idle = (await this.#store.clientUploads(client)).filter((r) =>
      this.#idle(r, now, limits),
    );
    let reclaimed = 0;
    for (const row of idle.slice(0, count)) {
      await this.#locks.run(row.uuid, async () => {
        // Checked again under the session's lock: a PATCH may have started meanwhile.
        const current = await this.#store.upload(row.uuid);
        if (current?.client !== client || !this.#idle(current, Date.now(), limits)) return;
        await this.#discard(current);
        reclaimed += 1;
        // The operator's trace of a push that lost its session (its next PATCH gets
        // BLOB_UPLOAD_UNKNOWN): whose, where, how far it had got, how long it was idle.
        this.#log?.info(
          {
            uploadId: current.uuid,
            repository: current.repo,
            name: current.name,
            client: client.replace(/^[a-z]+:/, ''),
            offset: current.offset,
            idleSeconds: Math.round((Date.now() - current.updated_at) / 1000),
          },
          "cancelled an idle upload session to make room for the same client's next one ([docker] upload_session_idle)",
        );
      });
    }
    return reclaimed;
  }

  /**
   * The 429 for a client whose sessions are all in use: what counts, and when one frees.
   * Retry-After is honest: when none of the client's sessions is in use (a body streaming in,
   * or a byte acknowledged within the last IN_USE_SECONDS), nothing but a reclaim can make room,
   * so it is the seconds until the first one becomes reclaimable; a client told less (NORA's
   * usual 3–10 s) ran out of retries before that (containers/image retries a 429 five times,
   * skopeo gave up after 27 s with the message saying 27 s more would do). When some session is
   * in use it may end any moment (a parallel push finishing a layer): then the usual 3–10 s, or
   * the reclaim time when that is sooner.
   */
  async #clientFull(client: string, open: number, limits: UploadLimits): Promise<RegistryError> {
    const now = Date.now();
    const rows = await this.#store.clientUploads(client);
    const waiting = rows.filter((r) => !this.#inFlight.has(r.uuid));
    const inUse = rows.some(
      (r) =>
        this.#inFlight.has(r.uuid) || (r.offset > 0 && r.updated_at > now - IN_USE_SECONDS * 1000),
    );
    const first = Math.min(...waiting.map((r) => reclaimableAt(r, limits)));
    const soonest = waiting.length === 0 ? undefined : Math.max(1, Math.ceil((first - now) / 1000));
    const idleFor = limits.idleSeconds;
    const emptyFor = emptyIdleSeconds(limits);
    const when =
      soonest === undefined
        ? `all ${open} are receiving bytes now`
        : `the first becomes reclaimable in ${soonest} s if it receives nothing`;
    return tooMany(
      `too many concurrent upload sessions for ${client.replace(/^[a-z]+:/, '')}: ${open} open (max ${limits.maxSessionsPerClient} per client, [docker] max_upload_sessions_per_client), none idle. A session counts from its POST until its PUT or DELETE; one that receives no bytes for ${idleFor} s ([docker] upload_session_idle), or ${emptyFor} s when it has received none at all, is cancelled to make room for this client's next session (so a killed push frees its slots within ${idleFor} s); ${when}`,
      soonest === undefined ? undefined : inUse ? Math.min(soonest, randomInt(3, 11)) : soonest,
    );
  }

  async cancel(repo: string, name: string, uuid: string, client?: string): Promise<void> {
    await this.#locks.run(uuid, async () => {
      const row = await this.#row(repo, name, uuid, client);
      await this.#discard(row);
    });
  }

  /** Every open session, oldest first, for the admin API (`GET /api/v1/admin/uploads`). */
  async sessions(): Promise<UploadSessionInfo[]> {
    return (await this.#store.allUploads()).map((row) => this.#info(row));
  }

  /**
   * An admin's cancel (`DELETE /api/v1/admin/uploads/<uuid>`) of any client's session, under the
   * session's lock (a PATCH streaming into it finishes or fails first): the session as it was,
   * or undefined when there is none. Its client's next request gets BLOB_UPLOAD_UNKNOWN.
   */
  async cancelAny(uuid: string): Promise<UploadSessionInfo | undefined> {
    return this.#locks.run(uuid, async () => {
      const row = await this.#store.upload(uuid);
      if (row === undefined) return undefined;
      await this.#discard(row);
      return this.#info(row);
    });
  }

  #info(row: OciUploadsTable): UploadSessionInfo {
    return {
      repository: row.repo,
      name: row.name,
      uuid: row.uuid,
      bytes: row.offset,
      started: new Date(row.started_at).toISOString(),
      last_activity: new Date(row.updated_at).toISOString(),
      client: row.client,
      receiving: this.#inFlight.has(row.uuid),
    };
  }

  /** Drops sessions idle longer than the TTL, and spool files no session owns. */
  async purgeIdle(now = Date.now()): Promise<number> {
    const cutoff = now - this.#limits().ttlSeconds * 1000;
    const idle = await this.#store.idleUploads(cutoff);
    let purged = 0;
    for (const row of idle) {
      // A body still streaming in (a long PATCH updates the row only at its end) is not idle.
      if (this.#inFlight.has(row.uuid)) continue;
      await this.#locks.run(row.uuid, async () => {
        const current = await this.#store.upload(row.uuid);
        if (current === undefined || current.updated_at >= cutoff) return;
        await this.#discard(current);
        purged += 1;
      });
    }
    await this.#sweepOrphanSpools(cutoff);
    return purged;
  }

  async #sweepOrphanSpools(cutoff: number): Promise<void> {
    const dir = await this.#blobs.spoolPath('uploads').then((p) => p.slice(0, p.lastIndexOf('/')));
    const owned = await this.#store.uploadSpoolPaths();
    for (const entry of await fs.readdir(dir).catch(() => [] as string[])) {
      const file = `${dir}/${entry}`;
      if (owned.has(file)) continue;
      const info = await fs.stat(file).catch(() => undefined);
      if (info && info.mtimeMs < cutoff) await fs.rm(file, { force: true });
    }
  }

  /**
   * The session `uuid` of repo/name, or BLOB_UPLOAD_UNKNOWN (404). A session a user opened
   * (`client` "user:<name>") is that user's alone: another principal gets the same 404 as for an
   * unknown session, so a leaked upload URL neither lets another user write, read the offset of
   * or cancel the push, nor tells that the session exists. Sessions opened anonymously (auth off)
   * or before 0101 (client null) are anyone's, as in Distribution. `client` undefined: no check.
   */
  async #row(
    repo: string,
    name: string,
    uuid: string,
    client: string | undefined,
  ): Promise<OciUploadsTable> {
    const row = await this.#store.upload(uuid);
    if (row?.repo !== repo || row.name !== name || !mayUse(row.client, client)) {
      throw new RegistryError('NOT_FOUND', `upload session ${uuid} is unknown`, {
        protocolCode: 'BLOB_UPLOAD_UNKNOWN',
      });
    }
    return row;
  }

  /**
   * The session (as #row), its spool cut back to the committed offset: bytes past it are what a
   * crash left of an unacknowledged chunk. Call under the session's lock. A spool shorter than the
   * offset drops the session (see the module comment) and throws BLOB_UPLOAD_UNKNOWN.
   */
  async #resumable(
    repo: string,
    name: string,
    uuid: string,
    client: string | undefined,
  ): Promise<OciUploadsTable> {
    const row = await this.#row(repo, name, uuid, client);
    const size = await fs.stat(row.spool_path).then(
      (info) => info.size,
      (err: unknown) => {
        if (errnoCode(err) === 'ENOENT') return -1;
        throw err;
      },
    );
    if (size === row.offset) return row;
    if (size > row.offset) {
      await fs.truncate(row.spool_path, row.offset);
      // An in-memory hash covers exactly the committed bytes, so it stays valid.
      return row;
    }
    await this.#discard(row);
    throw new RegistryError(
      'NOT_FOUND',
      `upload session ${uuid} lost bytes it had acknowledged; start the upload again`,
      { protocolCode: 'BLOB_UPLOAD_UNKNOWN' },
    );
  }

  /**
   * Streams `body` onto the spool at the committed offset, fsyncs it, then records the new offset
   * (so a recorded offset never names bytes a crash can lose); on failure the file is cut back to
   * the last good offset.
   */
  async #write(row: OciUploadsTable, body: Readable): Promise<number> {
    const limits = this.#limits();
    const live = this.#live.get(row.uuid) ?? { hash: undefined };
    this.#live.set(row.uuid, live);
    let written = 0;
    const sessionRoom = limits.maxSessionBytes - row.offset;
    const hash = live.hash;
    const inFlight = this.#inFlight;
    const meter = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        written += chunk.length;
        if (row.offset + written > limits.maxSessionBytes) {
          callback(tooMany(`upload session exceeds the limit of ${limits.maxSessionBytes} bytes`));
          return;
        }
        if (written > limits.maxRequestBytes) {
          callback(
            new RegistryError(
              'TOO_LARGE',
              `request body exceeds the limit of ${limits.maxRequestBytes} bytes`,
            ),
          );
          return;
        }
        hash?.update(chunk);
        callback(null, chunk);
      },
    });
    if (sessionRoom < 0) throw tooMany('upload session is over its size limit');
    inFlight.add(row.uuid);
    try {
      await pipeline(
        body,
        meter,
        createWriteStream(row.spool_path, { flags: 'r+', start: row.offset }),
      );
      await syncFile(row.spool_path);
      await this.#store.setUploadOffset(row.uuid, row.offset + written);
    } catch (err) {
      // The hash has seen bytes the file will not keep: recompute it at finalize.
      live.hash = undefined;
      await fs.truncate(row.spool_path, row.offset).catch(() => undefined);
      if (errnoCode(err) === 'ENOENT') {
        throw new RegistryError('NOT_FOUND', 'upload session is gone', {
          protocolCode: 'BLOB_UPLOAD_UNKNOWN',
        });
      }
      throw err;
    } finally {
      inFlight.delete(row.uuid);
    }
    return row.offset + written;
  }

  async #discard(row: OciUploadsTable): Promise<void> {
    this.#live.delete(row.uuid);
    await this.#store.deleteUpload(row.uuid);
    await fs.rm(row.spool_path, { force: true });
  }
}

/**
 * Seconds after which a session that has acknowledged no byte (offset 0: opened, or its only
 * PATCH broke off) may be reclaimed, when upload_session_idle is longer. Cancelling it loses
 * nothing (a client resuming it starts that blob again, which it must do anyway), and clients
 * send their first PATCH or PUT right after the POST; what leaves empty sessions behind is a
 * killed push or a client that opens sessions and never uses them (trial 13 F2: 25 of them
 * locked the address out for a minute).
 */
const EMPTY_SESSION_IDLE_SECONDS = 10;

/** A session that acknowledged a byte this recently (or streams one now) is in use (#clientFull). */
const IN_USE_SECONDS = 10;

function emptyIdleSeconds(limits: UploadLimits): number {
  return Math.min(limits.idleSeconds, EMPTY_SESSION_IDLE_SECONDS);
}

/**
 * When `row` becomes reclaimable (epoch ms) if it receives nothing: upload_session_idle after its
 * last acknowledged byte, or EMPTY_SESSION_IDLE_SECONDS after its POST when it has none.
 */
function reclaimableAt(row: OciUploadsTable, limits: UploadLimits): number {
  const seconds = row.offset === 0 ? emptyIdleSeconds(limits) : limits.idleSeconds;
  return row.updated_at + seconds * 1000;
}

/** Whether `client` may use a session opened by `opener` (see UploadManager.#row). */
function mayUse(opener: string | null, client: string | undefined): boolean {
  if (client === undefined || opener === null || !opener.startsWith('user:')) return true;
  return opener === client;
}

/** fsync of a file's data (any descriptor of the file flushes it). */
async function syncFile(file: string): Promise<void> {
  const handle = await fs.open(file, 'r');
  try {
    await handle.datasync();
  } finally {
    await handle.close();
  }
}

async function hashFile(file: string, algorithm: 'sha256' | 'sha512'): Promise<string> {
  const hash = createHasher(algorithm);
  await pipeline(
    createReadStream(file, { highWaterMark: 1024 * 1024 }),
    async function* (source: AsyncIterable<Buffer>) {
      for await (const chunk of source) hash.update(chunk);
      yield* [];
    },
  );
  return hash.digest('hex');
}

/**
 * 429 with NORA's jittered Retry-After (3–10 s) so clients back off without stampeding, or
 * `retryAfter` seconds when it is known when room will be made.
 */
export function tooMany(message: string, retryAfter?: number): RegistryError {
  return new RegistryError('TOO_MANY_REQUESTS', message, {
    protocolCode: 'TOOMANYREQUESTS',
    headers: { 'retry-after': String(retryAfter ?? randomInt(3, 11)) },
  });
}

/**
 * A chunk whose Content-Range length is not its Content-Length: still 416 with the current Range
 * (the session is unchanged), but saying so — "does not start at the current offset" was
 * wrong for a chunk that does start there.
 */
function rangeLengthMismatch(
  range: { readonly start: number; readonly end: number },
  declaredLength: number,
  offset: number,
): RegistryError {
  return new RegistryError(
    'RANGE_NOT_SATISFIABLE',
    `Content-Range ${range.start}-${range.end} names ${range.end - range.start + 1} bytes but the chunk's Content-Length is ${declaredLength}; nothing was written (current offset ${offset})`,
    {
      protocolCode: 'BLOB_UPLOAD_INVALID',
      headers: { range: `0-${Math.max(0, offset - 1)}` },
    },
  );
}

function outOfOrder(offset: number): RegistryError {
  return new RegistryError(
    'RANGE_NOT_SATISFIABLE',
    `chunk does not start at the current offset ${offset}`,
    {
      protocolCode: 'BLOB_UPLOAD_INVALID',
      headers: { range: `0-${Math.max(0, offset - 1)}` },
    },
  );
}
