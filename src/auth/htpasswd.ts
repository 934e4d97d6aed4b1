/**
 * Users from an Apache htpasswd file (`[auth] htpasswd_file`, NORA_AUTH_HTPASSWD_FILE), as NORA
 * reads it: bcrypt entries only (`htpasswd -B`: `$2y$`, `$2a$`, `$2b$`). Other hash kinds (MD5
 * `$apr1$`, `{SHA}`, crypt, plain text) are weak or unsalted: their lines are skipped with a
 * warning naming the user and the line, never a crash.
 *
 * The file is re-read on SIGHUP (Identity.reload) and when it changes on disk (polled with
 * fs.watchFile, which also sees a file that is created later or replaced by rename, as editors
 * and `htpasswd` itself do). A file that disappears or becomes unreadable keeps the last good
 * users: a half-finished edit never locks everyone out (a warning; with auth off, a debug line:
 * nobody needs the file then). So does a SIGHUP to a path that is missing or unreadable: the
 * users of the previous path stay until the new one is read (a warning naming it). A file that
 * was never there (at start) is a debug line: with auth on the
 * configuration check warns about it (app.ts `checkHtpasswdFile`). A good re-read of the same file that no
 * longer names a user reports that user as removed (for the empty-file warning); identity.ts
 * compares the token owners with the users after every read that changed them (suspending the
 * tokens of a user gone from the file). A first read (startup, a SIGHUP to another path) and an
 * empty file never report removals.
 */
import fs from 'node:fs';
import bcrypt from 'bcryptjs';
import { errnoCode } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import { sha256Hex } from './users.ts';

/** A line of the file that was not taken, and why (for the warning). */
export interface HtpasswdProblem {
  readonly line: number;
  readonly user: string | undefined;
  readonly reason: string;
}

export interface ParsedHtpasswd {
  /** user → bcrypt hash */
  readonly users: ReadonlyMap<string, string>;
  readonly problems: readonly HtpasswdProblem[];
}

const BCRYPT = /^\$2[aby]\$\d{2}\$[./A-Za-z0-9]{53}$/;

/** The kind of a non-bcrypt hash, for the warning (never the hash itself). */
function hashKind(hash: string): string {
  if (hash.startsWith('$apr1$')) return 'MD5 ($apr1$)';
  if (hash.startsWith('{SHA}')) return 'SHA-1 ({SHA})';
  if (hash.startsWith('$5$') || hash.startsWith('$6$')) return 'SHA-crypt';
  if (hash.startsWith('$2')) return 'malformed bcrypt';
  if (/^[./A-Za-z0-9]{13}$/.test(hash)) return 'DES crypt';
  return 'plain text or unknown';
}

/**
 * Parses htpasswd text: `user:hash` per line; blank lines and `#` comments are ignored. Only
 * bcrypt hashes are taken; a later line for the same user wins, as Apache's own lookup does not
 * say otherwise and an appended line is what an operator means.
 */
export function parseHtpasswd(text: string): ParsedHtpasswd {
  const users = new Map<string, string>();
  const problems: HtpasswdProblem[] = [];
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const colon = line.indexOf(':');
    if (colon <= 0) {
      problems.push({ line: index + 1, user: undefined, reason: 'not a "user:hash" line' });
      return;
    }
    const user = line.slice(0, colon);
    const hash = line.slice(colon + 1);
    if (!BCRYPT.test(hash)) {
      problems.push({
        line: index + 1,
        user,
        reason: `${hashKind(hash)} hash: only bcrypt (htpasswd -B) is accepted`,
      });
      return;
    }
    users.set(user, hash);
  });
  return { users, problems };
}

/**
 * The warning for a skipped line, `htpasswd line 6 (user "mike") skipped: MD5 ($apr1$) hash: only
 * bcrypt (htpasswd -B) is accepted`: what the server logs on every read and `nora config check`
 * prints (app.ts checkConfig), in the same words.
 */
export function describeHtpasswdProblem(problem: HtpasswdProblem): string {
  const user = problem.user === undefined ? '' : ` (user "${problem.user}")`;
  return `htpasswd line ${problem.line}${user} skipped: ${problem.reason}`;
}

export interface HtpasswdOptions {
  readonly log: Logger;
  /** How often the file is polled for changes, ms (tests make it short). */
  readonly pollIntervalMs?: number;
  /**
   * Called after a re-read that changed the users (verified-credential caches drop), with the
   * users that left the file (see HtpasswdUsers: only on a good re-read of the same file).
   * The read is settled once the promise it returns is.
   */
  readonly onChange?: (removed: readonly string[]) => void | Promise<void>;
}

const DEBOUNCE_MS = 150;

/** The bcrypt cost (`$2y$05$…` → 5) most of `users`' hashes have; undefined when there are none. */
function commonCost(users: ReadonlyMap<string, string>): number | undefined {
  const counts = new Map<number, number>();
  for (const hash of users.values()) {
    const cost = Number(hash.slice(4, 6));
    counts.set(cost, (counts.get(cost) ?? 0) + 1);
  }
  let best: number | undefined;
  for (const [cost, count] of counts) {
    if (best === undefined || count > (counts.get(best) ?? 0)) best = cost;
  }
  return best;
}

/** The users of one htpasswd file, kept current (see the module comment). */
export class HtpasswdUsers {
  readonly #log: Logger;
  readonly #pollIntervalMs: number;
  readonly #onChange: (removed: readonly string[]) => void | Promise<void>;
  #file: string | undefined;
  #users: ReadonlyMap<string, string> = new Map();
  /** bcrypt cost → a hash of a random password at that cost (spendDecoy). */
  readonly #decoys = new Map<number, Promise<string>>();
  /** The common cost of the users read last (recounted when the file's users change). */
  #costOf:
    { readonly users: ReadonlyMap<string, string>; readonly cost: number | undefined } | undefined;
  /** The users before the last change (previousFingerprint). */
  #previous: ReadonlyMap<string, string> = new Map();
  #watching: string | undefined;
  /** The current file was read at least once (a missing file since is a warning, not news). */
  #readOnce = false;
  /** `[auth] enabled`: with auth off nobody needs the file, and its problems are not warned. */
  #authEnabled = true;
  #debounce: NodeJS.Timeout | undefined;
  #loading: Promise<void> = Promise.resolve();
  #closed = false;

  constructor(options: HtpasswdOptions) {
    this.#log = options.log;
    this.#pollIntervalMs = options.pollIntervalMs ?? 1000;
    this.#onChange = options.onChange ?? (() => undefined);
  }

  /** The absolute path read, or undefined before `use`. */
  get file(): string | undefined {
    return this.#file;
  }

  get size(): number {
    return this.#users.size;
  }

  /** The users read last, in the file's order (a configuration check's "did you mean"). */
  names(): string[] {
    return [...this.#users.keys()];
  }

  /** The current file has been read (a missing or unreadable one has not: no users to judge). */
  get readable(): boolean {
    return this.#readOnce;
  }

  has(user: string): boolean {
    return this.#users.has(user);
  }

  /**
   * A one-way fingerprint of `user`'s current hash line (sha256 hex), or undefined when the user
   * is not in the file: it changes when the password does (a new bcrypt salt each time).
   */
  fingerprint(user: string): string | undefined {
    return fingerprintOf(user, this.#users.get(user));
  }

  /**
   * `user`'s fingerprint in the users read before the last change (undefined when absent there,
   * or before a second read): what a user just removed had (identity.ts keeps it with the
   * suspended tokens, to tell a restored file from a name given a new password).
   */
  previousFingerprint(user: string): string | undefined {
    return fingerprintOf(user, this.#previous.get(user));
  }

  /** A user of the file whose name equals `name` ignoring case but not exactly, or undefined. */
  findIgnoringCase(name: string): string | undefined {
    const lower = name.toLowerCase();
    for (const user of this.#users.keys()) {
      if (user !== name && user.toLowerCase() === lower) return user;
    }
    return undefined;
  }

  /**
   * Reads `file` (an absolute path) and watches it; a new path (a SIGHUP reload) drops the old
   * watch, and the old users once the new file is read: a new path that is missing or unreadable
   * keeps the users read last (a warning naming it), as a deleted file does, so a typo in the key
   * never locks everyone out (trial 33 newB). Resolves when the read is done; never rejects.
   */
  use(file: string, authEnabled = true): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#authEnabled = authEnabled;
    if (file !== this.#file) {
      this.#unwatch();
      this.#file = file;
      this.#readOnce = false;
      this.#watch(file);
      this.#loading = this.#load(file, true);
    } else {
      this.#loading = this.#load(file, false);
    }
    return this.#loading;
  }

  /** Resolves once the latest read (startup, reload or file change) is done. */
  settled(): Promise<void> {
    return this.#loading;
  }

  /**
   * true: the user is in the file and the password matches; false: in the file, wrong password;
   * undefined: not in the file (the metadata store decides).
   */
  async verify(user: string, password: string): Promise<boolean | undefined> {
    const hash = this.#users.get(user);
    if (hash === undefined) return undefined;
    // bcryptjs reads $2y$ (PHP's and Apache's name for the fixed $2a$) like $2b$.
    return bcrypt.compare(password, hash);
  }

  /**
   * Spends the work of one wrong-password check of this file (a bcrypt compare at the cost most of
   * its users' hashes have) on a decoy hash: what a failed login of a name the file does not have
   * costs, so the answer's time does not tell which names are in the file. Nothing when the file
   * has no users. A user whose hash has another cost than most stays distinguishable by time:
   * keep one cost per file (`htpasswd -B -C N` for all).
   */
  async spendDecoy(password: string): Promise<void> {
    if (this.#costOf?.users !== this.#users)
      this.#costOf = { users: this.#users, cost: commonCost(this.#users) };
    const cost = this.#costOf.cost;
    if (cost === undefined) return;
    let decoy = this.#decoys.get(cost);
    if (decoy === undefined) {
      decoy = bcrypt.hash(sha256Hex(String(Math.random())), cost);
      this.#decoys.set(cost, decoy);
    }
    await bcrypt.compare(password, await decoy);
  }

  close(): void {
    this.#closed = true;
    this.#unwatch();
  }

  async #load(file: string, first: boolean): Promise<void> {
    let text: string;
    try {
      text = await fs.promises.readFile(file, 'utf8');
    } catch (err) {
      if (file !== this.#file) return;
      const code = errnoCode(err);
      if (!this.#readOnce && code === 'ENOENT' && this.#users.size === 0) {
        // Never there: with auth on, the configuration check (app.ts checkHtpasswdFile) warns,
        // naming the key; with auth off nobody needs it. Nothing to keep either way.
        this.#log.debug(
          { file },
          'no htpasswd file: users come only from the metadata store (npm adduser) until it is created',
        );
      } else if (!this.#authEnabled) {
        this.#log.debug(
          { file, code, users: this.#users.size },
          'htpasswd file could not be read (auth is off): keeping the users read before',
        );
      } else {
        this.#log.warn(
          { file, code, users: this.#users.size },
          `htpasswd file ${file} could not be read (${code ?? String(err)}): keeping the ${this.#users.size} user(s) read before${this.#readOnce ? '' : ' from the previous [auth] htpasswd_file'} until it can be`,
        );
      }
      return;
    }
    if (file !== this.#file) return; // a reload moved to another file meanwhile
    // The first good read of a path (also one that appeared after a reload named it) reports no
    // removals: the users it replaces may be another file's.
    if (!this.#readOnce) first = true;
    this.#readOnce = true;
    const parsed = parseHtpasswd(text);
    for (const problem of parsed.problems) {
      // With auth off nobody logs in with the file: nothing about it is warned (docs/auth.md
      // "Users"), as `nora config check` omits these lines then (trial 20 authx F8).
      this.#log[this.#authEnabled ? 'warn' : 'debug'](
        { file, line: problem.line, user: problem.user },
        describeHtpasswdProblem(problem),
      );
    }
    const changed = !sameUsers(this.#users, parsed.users);
    const removed = first ? [] : removedUsers(this.#users, parsed);
    if (changed) this.#previous = this.#users;
    this.#users = parsed.users;
    if (changed || first) {
      this.#log.info({ file, users: parsed.users.size }, 'htpasswd users loaded');
    }
    if (removed.length > 0 && parsed.users.size === 0) {
      // An empty file is more often a half-written one (an editor truncating before it writes)
      // than the intent to remove everyone: the users stop working, their tokens are kept.
      this.#log.warn(
        { file, removed: removed.length },
        'htpasswd file has no users: their logins stop, but their API tokens are kept in case this is a half-written file',
      );
      removed.length = 0;
    }
    if (!changed) return;
    try {
      await this.#onChange(removed);
    } catch (err) {
      this.#log.warn({ file, err }, 'htpasswd change could not be applied in full');
    }
  }

  #watch(file: string): void {
    this.#watching = file;
    fs.watchFile(file, { interval: this.#pollIntervalMs, persistent: false }, this.#listener);
  }

  #unwatch(): void {
    if (this.#debounce !== undefined) clearTimeout(this.#debounce);
    if (this.#watching !== undefined) fs.unwatchFile(this.#watching, this.#listener);
    this.#watching = undefined;
  }

  readonly #listener = (current: fs.Stats, previous: fs.Stats): void => {
    if (current.mtimeMs === previous.mtimeMs && current.size === previous.size) {
      if (current.ino === previous.ino) return;
    }
    if (this.#debounce !== undefined) clearTimeout(this.#debounce);
    // Several writes in a row (an editor's save) make one re-read.
    this.#debounce = setTimeout(() => {
      this.#debounce = undefined;
      const file = this.#file;
      if (file !== undefined && !this.#closed) this.#loading = this.#load(file, false);
    }, DEBOUNCE_MS);
    this.#debounce.unref();
  };
}

/** sha256 hex of a user's hash line, or undefined for a user without one. */
function fingerprintOf(user: string, hash: string | undefined): string | undefined {
  return hash === undefined ? undefined : sha256Hex(`htpasswd:${user}:${hash}`);
}

/**
 * The users of `before` that the new read no longer names at all: neither as a user nor on a
 * skipped line (a line switched to MD5 by mistake is a broken user, not a removed one).
 */
function removedUsers(before: ReadonlyMap<string, string>, parsed: ParsedHtpasswd): string[] {
  const named = new Set(parsed.problems.map((p) => p.user));
  return [...before.keys()].filter((user) => !parsed.users.has(user) && !named.has(user));
}

function sameUsers(a: ReadonlyMap<string, string>, b: ReadonlyMap<string, string>): boolean {
  if (a.size !== b.size) return false;
  for (const [user, hash] of a) if (b.get(user) !== hash) return false;
  return true;
}
