/**
 * Who owns an S3 bucket: the lease object `nora-lease.json` (outside `blobs/`, so no sweep ever
 * lists it). Two NORA installations on one bucket each keep their own metadata database, so each
 * sees the other's blobs as unreferenced and `nora gc --apply` on one deletes the other's bytes
 * (trial 30 newB). `.nora-serve/` cannot see it: it is a local directory. So:
 *
 * - an installation is named by an owner id kept in its local `[storage] path`
 *   (`.nora-owner`, a UUID made on first use): the server, `nora gc`, retention of one
 *   installation share it, another installation (another host, another directory) has its own;
 * - `nora serve` claims the bucket at start (LeaseRecord) and rewrites the lease every
 *   `heartbeatSeconds`; a live lease of another owner stops the start (BucketLeaseHeldError); one
 *   whose heartbeat is older than STALE_HEARTBEATS heartbeats (its server killed, or gone), or
 *   marked stopped by a clean shutdown, is taken over with a warning, so a `kill -9` never
 *   blocks a restart for long; the same owner's lease (a restart) is simply taken;
 * - anything that deletes (gc, retention, `nora verify --remove`) asks `refuseForeignLease`
 *   first: a lease of another owner, live or stale, refuses (the other installation may be
 *   stopped only for now, and its blobs are in this bucket); the server also refuses deletes
 *   once its heartbeat finds the lease taken by another owner.
 *
 * Every write of the lease is conditional on what was just read (S3 conditional writes:
 * `If-None-Match: *` creates it only while absent, `If-Match: <etag>` rewrites it only while it is
 * the object read), so of two servers started within the same second on one bucket exactly one
 * claims it; the other reads the winner's live lease and stops. A store without conditional
 * writes (501 / NotImplemented) gets plain writes: there both may claim, the next heartbeat of
 * the loser finds the other owner and logs it, and its deletes stop from then on.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { StorageConfig } from '../config/schema.ts';
import {
  StorageNotFoundError,
  type StorageDriver,
  type StorageKey,
  type WriteCondition,
} from './driver.ts';

export const LEASE_KEY = 'nora-lease.json' as StorageKey;
/** The installation's id file in the local `[storage] path`. */
export const OWNER_FILE = '.nora-owner';
/** Seconds between heartbeats of a serving installation. */
export const HEARTBEAT_SECONDS = 30;
/** A lease whose heartbeat is older than this many of its heartbeats is stale. */
export const STALE_HEARTBEATS = 3;

/** The JSON of `nora-lease.json`. Times are ISO 8601 (UTC). */
export interface LeaseRecord {
  readonly owner: string;
  readonly host: string;
  readonly pid: number;
  /** The owner's local `[storage] path` (absolute). */
  readonly storage: string;
  readonly started: string;
  readonly heartbeat: string;
  /** Seconds between the owner's heartbeats: staleness is judged by the lease's own. */
  readonly heartbeatSeconds: number;
  /** Set by a clean shutdown: the lease stays (the owner's blobs are in the bucket), not live. */
  readonly stopped?: string;
}

/** A live lease of another installation: `nora serve` stops (exit 1) with this message. */
export class BucketLeaseHeldError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BucketLeaseHeldError';
  }
}

/** The owner id of the installation whose local storage directory is `localDir` (made once). */
export async function installationId(localDir: string): Promise<string> {
  const file = path.join(path.resolve(localDir), OWNER_FILE);
  const found = await fs.readFile(file, 'utf8').then(
    (text) => text.trim(),
    () => '',
  );
  if (found !== '') return found;
  await fs.mkdir(path.dirname(file), { recursive: true });
  const made = randomUUID();
  // `wx`: of two processes making it at once, the second reads the first's.
  return fs.writeFile(file, `${made}\n`, { flag: 'wx' }).then(
    () => made,
    async () => (await fs.readFile(file, 'utf8')).trim(),
  );
}

/** The bucket's lease, or undefined when there is none (or it is not NORA's JSON). */
export async function readLease(driver: StorageDriver): Promise<LeaseRecord | undefined> {
  let text = '';
  try {
    for await (const chunk of await driver.read(LEASE_KEY)) text += String(chunk);
  } catch (err) {
    if (err instanceof StorageNotFoundError) return undefined;
    throw err;
  }
  try {
    const parsed = JSON.parse(text) as Partial<LeaseRecord>;
    return typeof parsed.owner === 'string' && typeof parsed.heartbeat === 'string'
      ? (parsed as LeaseRecord)
      : undefined;
  } catch {
    return undefined;
  }
}

/** Seconds since the lease's heartbeat (by this host's clock). */
function ageSeconds(lease: LeaseRecord, now: number): number {
  return Math.max(0, (now - Date.parse(lease.heartbeat)) / 1000);
}

/** True while the lease's heartbeat is younger than STALE_HEARTBEATS of its heartbeats. */
export function leaseIsLive(lease: LeaseRecord, now = Date.now()): boolean {
  if (lease.stopped !== undefined) return false;
  const period = lease.heartbeatSeconds > 0 ? lease.heartbeatSeconds : HEARTBEAT_SECONDS;
  return ageSeconds(lease, now) < STALE_HEARTBEATS * period;
}

function describeLease(lease: LeaseRecord, now: number): string {
  const state =
    lease.stopped === undefined
      ? `last heartbeat ${Math.round(ageSeconds(lease, now))} s ago`
      : `stopped at ${lease.stopped}`;
  return `the NORA server pid ${lease.pid} on host ${lease.host} (storage ${lease.storage}, owner ${lease.owner}, ${state})`;
}

export interface ClaimOptions {
  readonly localDir: string;
  readonly heartbeatSeconds?: number;
  readonly warn: (message: string) => void;
  /** The bucket as messages name it (S3Driver.describe()). */
  readonly where: string;
}

/**
 * The lease as seen before a rewrite, and the condition that rewrite is made on: created only
 * while absent (`If-None-Match: *`), replaced only while still the object read (`If-Match`), so
 * that a decision made on what was read never overwrites another server's newer claim.
 * `condition` undefined: the store gave no identity to name it by (plain write).
 */
interface SeenLease {
  readonly record: LeaseRecord | undefined;
  readonly condition: WriteCondition | undefined;
}

/** Rewrites tried when another writer keeps winning the conditional write, at most. */
const WRITE_ATTEMPTS = 3;

/**
 * The lease and the condition to rewrite it on. The object's identity is taken BEFORE it is read:
 * the bytes read are then at least as new as that identity, so a newer claim read makes the
 * condition fail rather than be overwritten.
 */
async function seeLease(driver: StorageDriver): Promise<SeenLease> {
  const info = await driver.stat(LEASE_KEY);
  if (info === undefined) return { record: undefined, condition: { ifNoneMatch: '*' } };
  const record = await readLease(driver);
  return {
    record,
    condition: info.identity === undefined ? undefined : { ifMatch: info.identity },
  };
}

/**
 * A claimed lease, kept fresh by a timer (unref'd) until `release()`. `lost` turns true when a
 * heartbeat finds another owner's lease (it is then never rewritten, and deletes refuse).
 * Every rewrite is a conditional write on the lease just read (seeLease) while the store
 * supports them; a store answering 'unsupported' gets plain writes from then on.
 */
export class BucketLease {
  readonly owner: string;
  #lost = false;
  #timer: NodeJS.Timeout | undefined;
  /** False once the store said it has no conditional writes. */
  #conditional = true;
  readonly #driver: StorageDriver;
  readonly #record: Omit<LeaseRecord, 'heartbeat'>;
  #warn: (message: string) => void;

  constructor(
    driver: StorageDriver,
    record: Omit<LeaseRecord, 'heartbeat'>,
    warn: (message: string) => void,
  ) {
    this.#driver = driver;
    this.#record = record;
    this.owner = record.owner;
    this.#warn = warn;
  }

  /** Where later heartbeats report (the server's log, once it exists). */
  logTo(warn: (message: string) => void): void {
    this.#warn = warn;
  }

  get lost(): boolean {
    return this.#lost;
  }

  /** True when the store has shown it honours conditional writes (or has not refused them yet). */
  get conditional(): boolean {
    return this.#conditional;
  }

  /**
   * Writes the lease with a new heartbeat (`stopped`: marked so, by a clean shutdown), on
   * `condition`; false when the condition failed (another writer was first: read again).
   */
  async put(condition: WriteCondition | undefined, stopped = false): Promise<boolean> {
    const heartbeat = new Date().toISOString();
    const record: LeaseRecord = {
      ...this.#record,
      heartbeat,
      ...(stopped ? { stopped: heartbeat } : {}),
    };
    const body = Buffer.from(`${JSON.stringify(record, null, 2)}\n`);
    if (this.#conditional && condition !== undefined && this.#driver.writeIf !== undefined) {
      const outcome = await this.#driver.writeIf(LEASE_KEY, body, condition);
      if (outcome === 'conflict') return false;
      if (outcome !== 'unsupported') return true;
      // S3 without conditional writes (an older store): today's read-then-write, whose race
      // the next heartbeat detects (module comment).
      this.#conditional = false;
    }
    await this.#driver.write(LEASE_KEY, body);
    return true;
  }

  /**
   * One heartbeat: re-reads the lease; rewrites it (on the condition it is still the one read)
   * while ours. Errors are the store's.
   */
  async heartbeat(): Promise<void> {
    for (let attempt = 0; attempt < WRITE_ATTEMPTS && !this.#lost; attempt += 1) {
      const seen = await seeLease(this.#driver);
      if (seen.record !== undefined && seen.record.owner !== this.owner) {
        this.#lost = true;
        this.#warn(
          `the S3 bucket's lease (${LEASE_KEY}) was taken by ${describeLease(seen.record, Date.now())}: two NORA installations on one bucket are not supported; this server no longer deletes anything from the bucket (gc, retention): stop one of them`,
        );
        return;
      }
      if (await this.put(seen.condition)) return;
    }
    if (!this.#lost) throw new Error(`the lease kept changing while it was rewritten`);
  }

  start(): void {
    this.#timer = setInterval(() => {
      this.heartbeat().catch((err: unknown) => {
        this.#warn(`could not renew the S3 bucket's lease: ${(err as Error).message}`);
      });
    }, this.#record.heartbeatSeconds * 1000);
    this.#timer.unref();
  }

  /**
   * Stops the heartbeat and marks the lease stopped when it is still this process's claim (a
   * clean shutdown). It is not removed: this installation's blobs stay in the bucket, and
   * another installation's `nora gc` must still refuse.
   */
  async release(): Promise<void> {
    clearInterval(this.#timer);
    if (this.#lost) return;
    const seen = await seeLease(this.#driver).catch(() => undefined);
    const current = seen?.record;
    // Only this process's claim: an offline command of the same installation (which builds
    // the app) must not remove its running server's lease.
    const mine =
      current?.owner === this.owner &&
      current.pid === this.#record.pid &&
      current.started === this.#record.started;
    if (mine) await this.put(seen?.condition, true).catch(() => undefined);
  }
}

/**
 * Claims the bucket for a server (see the module comment) and starts its heartbeat. Throws
 * BucketLeaseHeldError when another installation's lease is live, also when that lease was
 * written between this claim's read and its (conditional) write: of two servers started at
 * once on a store with conditional writes, exactly one wins.
 */
export async function claimLease(
  driver: StorageDriver,
  options: ClaimOptions,
): Promise<BucketLease> {
  const owner = await installationId(options.localDir);
  for (let attempt = 0; attempt < WRITE_ATTEMPTS; attempt += 1) {
    const now = Date.now();
    const seen = await seeLease(driver);
    const current = seen.record;
    if (current !== undefined && current.owner !== owner && leaseIsLive(current, now)) {
      throw new BucketLeaseHeldError(
        `S3 storage ${options.where} is in use by ${describeLease(current, now)}: two NORA installations on one bucket would delete each other's blobs (each has its own database). Use another bucket, or stop that server; if it is gone for good, its lease is taken over once its heartbeat is ${STALE_HEARTBEATS * current.heartbeatSeconds} s old, or at once after deleting the object ${LEASE_KEY} from the bucket`,
      );
    }
    const lease = new BucketLease(
      driver,
      {
        owner,
        host: os.hostname(),
        pid: process.pid,
        storage: path.resolve(options.localDir),
        started: new Date(now).toISOString(),
        heartbeatSeconds: options.heartbeatSeconds ?? HEARTBEAT_SECONDS,
      },
      options.warn,
    );
    // Lost the race (another server wrote the lease since it was read): judge its claim.
    if (!(await lease.put(seen.condition))) continue;
    if (current !== undefined && current.owner !== owner) {
      options.warn(
        `took over the S3 bucket's ${current.stopped === undefined ? 'stale ' : ''}lease (${LEASE_KEY}) of ${describeLease(current, now)}: if that installation still exists, stop it: two installations on one bucket delete each other's blobs`,
      );
    }
    lease.start();
    return lease;
  }
  throw new BucketLeaseHeldError(
    `S3 storage ${options.where}: its lease (${LEASE_KEY}) kept changing while this server claimed it: another NORA server is starting on this bucket; start only one`,
  );
}

/** The bucket as messages name it: `<s3_url> bucket "<bucket>"` (never the keys). */
export function bucketWhere(storage: StorageConfig): string {
  return `${storage.s3_url} bucket "${storage.bucket}"`;
}

/**
 * For anything that deletes from the bucket (`what`: "nora gc --apply"): throws
 * BucketLeaseHeldError when the (S3: any other mode passes) bucket's lease belongs to another installation, live or stale
 * (a stopped installation's blobs are still in the bucket). No lease, or this installation's
 * own (its server running or not): nothing is refused.
 */
export async function refuseForeignLease(
  driver: StorageDriver,
  storage: StorageConfig,
  what: string,
): Promise<void> {
  if (storage.mode !== 's3') return;
  const localDir = storage.path;
  const where = bucketWhere(storage);
  const current = await readLease(driver);
  if (current === undefined) return;
  const owner = await installationId(localDir);
  if (current.owner === owner) return;
  throw new BucketLeaseHeldError(
    `refusing ${what}: S3 storage ${where} belongs to ${describeLease(current, Date.now())}, another NORA installation with its own database, whose blobs would all look unreferenced here. Run it there; if that installation is gone for good, delete the object ${LEASE_KEY} from the bucket first`,
  );
}
