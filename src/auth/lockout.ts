/**
 * Failed-login lockout, per client address and per user name (NORA: "lockout after 5 failures,
 * exponential, max 900 s"). Checked by `AccessControl.authenticate` before any resolver runs, so
 * a locked client costs no password hash (scrypt's cost is the denial-of-service vector).
 *
 * The rule (an "address" is an IPv4 address or an IPv6 /64, see core/address-key.ts):
 * - Every failed authentication counts against the client address. A failed Basic password also
 *   counts against the user name it claims; a Bearer token, or a Basic password that is a token
 *   (`nra_…`/`nora_…`, which any user name accepts), counts against the address only.
 * - From the 5th consecutive failure on, the address (or user) is locked for 1 s, then 2 s, 4 s …
 *   doubling per further failure, at most 15 minutes. Failures are forgotten 15 minutes after the
 *   last one.
 * - A locked address is refused whatever it sends.
 * - A locked user is refused, EXCEPT from an address that has authenticated successfully as that
 *   user before (a known-good pair, remembered for the last `maxKnownGood` pairs): an attacker
 *   guessing a user's password from elsewhere cannot lock that user out of the places they work
 *   from.
 * - A success resets the address's and the user's failure counts and remembers the pair.
 *
 * Memory is bounded: each table holds at most `maxEntries` (known-good: `maxKnownGood`), the least
 * recently touched dropped first.
 */

import { addressKey } from '../core/address-key.ts';

export const LOCKOUT_THRESHOLD = 5;
export const LOCKOUT_BASE_MS = 1000;
export const LOCKOUT_MAX_MS = 15 * 60 * 1000;

/** Who is trying: the client address and, for a Basic password, the user name it claims. */
export interface LoginAttempt {
  readonly address: string;
  readonly user?: string | undefined;
  /**
   * Whether `user` names an existing user (set on failures, for the log): an unknown name is
   * counted but never logged, since it may be a password typed into the user field.
   */
  readonly knownUser?: boolean | undefined;
}

export type LockState =
  | { readonly locked: false }
  | {
      readonly locked: true;
      readonly by: 'address' | 'user';
      /** Milliseconds until the lock ends. */
      readonly retryAfterMs: number;
    };

interface FailureRecord {
  failures: number;
  lastFailure: number;
  lockedUntil: number;
}

/** A lock a failure just set (one per address or user locked): for the log. */
export interface LockEvent {
  readonly by: 'address' | 'user';
  /** The client address (its counting key: an IPv6 client as its /64). */
  readonly address: string;
  /**
   * The user name the failed login claimed, when it names an existing user (never its password;
   * never an unknown name: users paste passwords into the user field).
   */
  readonly user?: string | undefined;
  /** True when the failed login claimed a user name that names no user (not logged). */
  readonly unknownUser?: boolean | undefined;
  /** Consecutive failures of the locked address or user. */
  readonly failures: number;
  /** How long the lock lasts, ms. */
  readonly lockMs: number;
}

export interface LockoutOptions {
  readonly now?: () => number;
  readonly maxEntries?: number;
  readonly maxKnownGood?: number;
}

export class LoginLockout {
  readonly #byAddress = new Map<string, FailureRecord>();
  readonly #byUser = new Map<string, FailureRecord>();
  /** `user \0 address` → last success (ms); Map order: least recently confirmed first. */
  readonly #knownGood = new Map<string, number>();
  readonly #now: () => number;
  readonly #maxEntries: number;
  readonly #maxKnownGood: number;
  /** The latest end of any address lock set (ms): no address is locked once the clock is past it. */
  #addressLocksUntil = 0;
  #onLock: ((event: LockEvent) => void) | undefined;

  constructor(options: LockoutOptions = {}) {
    this.#now = options.now ?? Date.now;
    this.#maxEntries = options.maxEntries ?? 10_000;
    this.#maxKnownGood = options.maxKnownGood ?? 10_000;
  }

  /** Forgets every failure, lock and known-good pair (tests that send many bad credentials). */
  clear(): void {
    this.#byAddress.clear();
    this.#byUser.clear();
    this.#knownGood.clear();
    this.#addressLocksUntil = 0;
  }

  /**
   * False when no address is locked now (one clock read): lets a request without credentials
   * skip the per-address look-up. True may be stale (a success since ended a lock): `state`
   * decides for one address.
   */
  anyAddressLocked(): boolean {
    return this.#addressLocksUntil > this.#now();
  }

  /** Whether `attempt` is refused now, and by which lock. */
  state(attempt: LoginAttempt): LockState {
    const now = this.#now();
    const address = this.#lockedFor(this.#byAddress, attempt.address, now);
    if (address > 0) return { locked: true, by: 'address', retryAfterMs: address };
    if (attempt.user !== undefined && !this.isKnownGood(attempt.user, attempt.address)) {
      const user = this.#lockedFor(this.#byUser, attempt.user, now);
      if (user > 0) return { locked: true, by: 'user', retryAfterMs: user };
    }
    return { locked: false };
  }

  /** Calls `listener` with each lock a failure sets (the server logs it). */
  onLock(listener: (event: LockEvent) => void): void {
    this.#onLock = listener;
  }

  /** Records a failed authentication. */
  failed(attempt: LoginAttempt): void {
    const now = this.#now();
    const record = this.#count(this.#byAddress, attempt.address, now);
    this.#addressLocksUntil = Math.max(this.#addressLocksUntil, record.lockedUntil);
    if (record.failures >= LOCKOUT_THRESHOLD) this.#locked('address', attempt, record, now);
    if (attempt.user === undefined) return;
    const user = this.#count(this.#byUser, attempt.user, now);
    if (user.failures >= LOCKOUT_THRESHOLD) this.#locked('user', attempt, user, now);
  }

  #locked(by: LockEvent['by'], attempt: LoginAttempt, record: FailureRecord, now: number): void {
    if (this.#onLock === undefined) return;
    const event: LockEvent = {
      by,
      address: attempt.address,
      user: attempt.knownUser === true ? attempt.user : undefined,
      unknownUser: attempt.user !== undefined && attempt.knownUser !== true,
      failures: record.failures,
      lockMs: record.lockedUntil - now,
    };
    try {
      this.#onLock(event);
    } catch {
      // A listener's failure must not turn a failed login into a server error.
    }
  }

  /** Records a success: counts reset; a user's success remembers (user, address) as known-good. */
  succeeded(attempt: LoginAttempt): void {
    this.#byAddress.delete(attempt.address);
    if (attempt.user === undefined) return;
    this.#byUser.delete(attempt.user);
    const key = pairKey(attempt.user, attempt.address);
    this.#knownGood.delete(key);
    if (this.#knownGood.size >= this.#maxKnownGood) {
      const oldest = this.#knownGood.keys().next();
      if (oldest.done !== true) this.#knownGood.delete(oldest.value);
    }
    this.#knownGood.set(key, this.#now());
  }

  isKnownGood(user: string, address: string): boolean {
    return this.#knownGood.has(pairKey(user, address));
  }

  /** Entries held, for tests of the memory bound. */
  get sizes(): { readonly addresses: number; readonly users: number; readonly knownGood: number } {
    return {
      addresses: this.#byAddress.size,
      users: this.#byUser.size,
      knownGood: this.#knownGood.size,
    };
  }

  #lockedFor(table: Map<string, FailureRecord>, key: string, now: number): number {
    const record = table.get(key);
    if (record === undefined) return 0;
    if (now - record.lastFailure > LOCKOUT_MAX_MS) {
      table.delete(key);
      return 0;
    }
    return Math.max(0, record.lockedUntil - now);
  }

  #count(table: Map<string, FailureRecord>, key: string, now: number): FailureRecord {
    let record = table.get(key);
    if (record === undefined || now - record.lastFailure > LOCKOUT_MAX_MS) {
      record = { failures: 0, lastFailure: now, lockedUntil: 0 };
    }
    table.delete(key);
    record.failures += 1;
    record.lastFailure = now;
    if (record.failures >= LOCKOUT_THRESHOLD) {
      record.lockedUntil = now + lockDuration(record.failures);
    }
    if (table.size >= this.#maxEntries) {
      const oldest = table.keys().next();
      if (oldest.done !== true) table.delete(oldest.value);
    }
    table.set(key, record);
    return record;
  }
}

/** Lock length after `failures` consecutive failures (>= threshold): 1 s doubling, max 15 min. */
export function lockDuration(failures: number): number {
  const exponent = Math.min(failures - LOCKOUT_THRESHOLD, 20);
  return Math.min(LOCKOUT_BASE_MS * 2 ** exponent, LOCKOUT_MAX_MS);
}

function pairKey(user: string, address: string): string {
  return `${user}\0${address}`;
}

/**
 * The attempt an `Authorization` header makes from `remoteAddress` (counted by its addressKey:
 * an IPv6 client by its /64): the Basic user name when the
 * password is a password (not an `nra_`/`nora_` token, which any user name accepts); else address only.
 */
export function loginAttempt(authorization: string, remoteAddress: string): LoginAttempt {
  const address = addressKey(remoteAddress);
  const basic = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(authorization);
  if (basic === null) return { address };
  const decoded = Buffer.from(basic[1] ?? '', 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon <= 0) return { address };
  const password = decoded.slice(colon + 1);
  if (/^(?:nra|nora)_/.test(password)) return { address };
  return { address, user: decoded.slice(0, colon) };
}
