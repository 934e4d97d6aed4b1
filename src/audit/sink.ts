/**
 * The audit sink (src/audit/types.ts): every wanted event goes to the activity ring; with
 * `[audit] log` other than `off`, onto a bounded queue that is written out as one append of JSON
 * lines per flush (every FLUSH_MS, sooner once FLUSH_EVENTS wait), to the file (opened O_APPEND)
 * and/or stdout. `record` is two array writes: the pull path runs at tens of thousands a second.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Counter } from 'prom-client';
import type { Logger } from '../core/logger.ts';
import type { Metrics } from '../metrics/metrics.ts';
import { makeDirLevelsSync } from '../storage/make-dir.ts';
import { ActivityRing } from './activity.ts';
import type { ActivityFeed, AuditAction, AuditEvent, AuditSettings, AuditSink } from './types.ts';
import { DEFAULT_AUDIT_ACTIONS } from './types.ts';

/** A flush at least this often while events wait (ms). */
export const FLUSH_MS = 500;
/**
 * A flush as soon as this many events wait (~16 KiB of lines at ~250 bytes each): the events are
 * encoded then, so a pull's event dies young. At 1,024 (~50 ms of memo hits), and with events
 * kept as objects while an append waited for the thread pool, most events outlived two young
 * collections and were promoted (~300 bytes per pull that only a full collection frees:
 * docs/performance.md, "Memo hit: the audit queue's promotions").
 */
export const FLUSH_EVENTS = 64;
/** Events held at most; more are dropped and counted (`nora_audit_dropped_total`). */
export const QUEUE_CAP = 50_000;
/** A failing write is logged at most once a minute. */
const FAILURE_LOG_MS = 60_000;
/** The audit log's file mode (before the umask): owner and group only (it names users). */
export const AUDIT_FILE_MODE = 0o640;
const MIB = 1024 * 1024;

/** The activity ring alone: what tests and offline commands without `[audit]` get. */
export class ActivityOnlySink implements AuditSink {
  readonly feed: ActivityFeed;
  readonly #ring: ActivityRing;
  readonly #actions: ReadonlySet<AuditAction>;

  constructor(actions: readonly AuditAction[] = DEFAULT_AUDIT_ACTIONS) {
    this.#ring = new ActivityRing();
    this.feed = this.#ring;
    this.#actions = new Set(actions);
  }

  wants(action: AuditAction): boolean {
    return this.#actions.has(action);
  }

  record(event: AuditEvent): void {
    if (!this.#actions.has(event.action)) return;
    this.#ring.push(event);
  }
}

export interface AuditLogOptions {
  readonly settings: AuditSettings;
  readonly metrics: Metrics;
  readonly log: Pick<Logger, 'error' | 'warn'>;
  /** Where `stdout` lines go; process.stdout. */
  readonly stdout?: { write(chunk: string): unknown };
  /** The clock failures are rate-limited by (tests); Date.now. */
  readonly now?: () => number;
}

/**
 * The running audit log. Open with `AuditLog.open` (creates the file's directory, opens it
 * O_APPEND, mode 0640); `close` writes what is queued, synchronously, and closes the file
 * (shutdown, SIGTERM included: server.ts closes the app).
 */
export class AuditLog implements AuditSink {
  readonly feed: ActivityFeed;
  readonly #ring = new ActivityRing();
  readonly #actions: ReadonlySet<AuditAction>;
  readonly #settings: AuditSettings;
  readonly #log: Pick<Logger, 'error' | 'warn'>;
  readonly #stdout: { write(chunk: string | Uint8Array): unknown } | undefined;
  readonly #toFile: boolean;
  readonly #dropped: Counter<'reason'>;
  readonly #written: Counter;
  readonly #now: () => number;
  #queue: AuditEvent[] = [];
  #timer: NodeJS.Timeout | undefined;
  #immediate: NodeJS.Immediate | undefined;
  #fd: number | undefined;
  /** Bytes in the current file (fstat at open, plus what this process appended). */
  #size = 0;
  #writing = false;
  /** Batches taken from the queue while an append was in flight, for the next append. */
  #encoded: Buffer[] = [];
  /** How many events `#encoded` holds. */
  #encodedCount = 0;
  #closed = false;
  #lastFailureLog = -Infinity;
  #failuresSinceLog = 0;

  private constructor(options: AuditLogOptions) {
    this.#settings = options.settings;
    this.#actions = new Set(options.settings.actions);
    this.#log = options.log;
    this.#now = options.now ?? Date.now;
    const where = options.settings.log;
    this.#toFile = where === 'file' || where === 'both';
    this.#stdout =
      where === 'stdout' || where === 'both' ? (options.stdout ?? process.stdout) : undefined;
    this.feed = this.#ring;
    this.#dropped = options.metrics.counter(
      'nora_audit_dropped_total',
      'Audit events not written: queue full (writes slower than events) or write failed',
      ['reason'],
    );
    this.#written = options.metrics.counter(
      'nora_audit_events_total',
      'Audit events written to the audit log',
    );
  }

  /** The log of `settings`; the file (when written) is opened now, so a bad path fails start-up. */
  static open(options: AuditLogOptions): AuditLog {
    const audit = new AuditLog(options);
    if (audit.#toFile) {
      try {
        audit.#openFile();
      } catch (err) {
        // Serving goes on without it: the first flush tries again, and logs (once a minute).
        audit.#failed(err, 0);
      }
    }
    return audit;
  }

  get path(): string {
    return this.#settings.path;
  }

  wants(action: AuditAction): boolean {
    return this.#actions.has(action);
  }

  record(event: AuditEvent): void {
    if (!this.#actions.has(event.action)) return;
    this.#ring.push(event);
    if (this.#settings.log === 'off' || this.#closed) return;
    const queue = this.#queue;
    if (queue.length + this.#encodedCount >= QUEUE_CAP) {
      this.#dropped.inc({ reason: 'queue_full' });
      return;
    }
    queue.push(event);
    if (queue.length === 1) {
      // Armed only while events wait: an idle server never wakes up for the audit log.
      this.#timer ??= setTimeout(() => {
        this.#timer = undefined;
        this.#flush();
      }, FLUSH_MS).unref();
    } else if (queue.length === FLUSH_EVENTS) {
      this.#immediate ??= setImmediate(() => {
        this.#immediate = undefined;
        this.#flush();
      });
    }
  }

  /** Writes what is queued now (tests, and before a backup reads the file). Resolves when written. */
  async flush(): Promise<void> {
    this.#flush();
    while (this.#writing) await new Promise((resolve) => setTimeout(resolve, 5));
  }

  /** Writes what is queued, synchronously, and closes the file. Later events are not written. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    if (this.#immediate !== undefined) clearImmediate(this.#immediate);
    if (this.#encoded.length > 0) this.#writeSync(Buffer.concat(this.#encoded), this.#encodedCount);
    this.#encoded = [];
    this.#encodedCount = 0;
    const batch = this.#take();
    if (batch !== undefined) this.#writeSync(batch.bytes, batch.count);
    if (this.#fd !== undefined) {
      try {
        fs.closeSync(this.#fd);
      } catch {
        // Closing a file we wrote to fails only when the descriptor is already gone.
      }
      this.#fd = undefined;
    }
  }

  /**
   * The queued events as JSON lines, already encoded: the text dies here, so a write still in
   * flight holds only the bytes (outside V8's heap), not a string the young generation must copy
   * and promote while it waits.
   */
  #take(): { bytes: Buffer; count: number } | undefined {
    const queue = this.#queue;
    if (queue.length === 0) return undefined;
    this.#queue = [];
    let text = '';
    for (const event of queue) text += `${JSON.stringify(event)}\n`;
    return { bytes: Buffer.from(text), count: queue.length };
  }

  #flush(): void {
    // The queued events become bytes now, also while an append is in flight: an event object
    // then lives at most FLUSH_EVENTS requests, however long the thread pool takes to write.
    const batch = this.#take();
    if (batch !== undefined) {
      if (this.#stdout !== undefined) this.#stdout.write(batch.bytes);
      if (!this.#toFile) this.#written.inc(batch.count);
      else {
        this.#encoded.push(batch.bytes);
        this.#encodedCount += batch.count;
      }
    }
    // One append at a time: lines of two batches never interleave.
    if (this.#writing || this.#encoded.length === 0) return;
    const encoded = this.#encoded;
    const count = this.#encodedCount;
    this.#encoded = [];
    this.#encodedCount = 0;
    const bytes = encoded.length === 1 ? (encoded[0] as Buffer) : Buffer.concat(encoded);
    this.#writing = true;
    try {
      this.#rotateFor(bytes.length);
    } catch (err) {
      this.#writing = false;
      this.#failed(err, count);
      return;
    }
    const fd = this.#fd;
    if (fd === undefined) {
      this.#writing = false;
      this.#failed(new Error('the audit file is not open'), count);
      return;
    }
    fs.write(fd, bytes, 0, bytes.length, null, (err, written) => {
      this.#writing = false;
      if (err !== null || written !== bytes.length) {
        this.#failed(err ?? new Error(`short write: ${written} of ${bytes.length} bytes`), count);
      } else {
        this.#size += written;
        this.#written.inc(count);
      }
      // Lines encoded while writing, and events that came meanwhile.
      if (this.#encoded.length > 0 || this.#queue.length >= FLUSH_EVENTS) this.#flush();
    });
  }

  #writeSync(bytes: Buffer, count: number): void {
    if (this.#stdout !== undefined) this.#stdout.write(bytes);
    if (!this.#toFile) return;
    try {
      this.#rotateFor(bytes.length);
      if (this.#fd === undefined) throw new Error('the audit file is not open');
      fs.writeSync(this.#fd, bytes);
      this.#size += bytes.length;
      this.#written.inc(count);
    } catch (err) {
      this.#failed(err, count);
    }
  }

  /** Rotates before an append of `bytes` that would take the file past `max_size_mb`. */
  #rotateFor(bytes: number): void {
    const max = this.#settings.maxSizeMb * MIB;
    if (this.#fd === undefined) this.#openFile();
    if (max <= 0) return;
    // The file's real size, not only our own appends: another process (a second server on the
    // same storage, an operator's `cat >>`) may have appended since, or a shipper truncated it.
    // One fstat per flush (at most every FLUSH_MS or FLUSH_EVENTS events).
    if (this.#fd !== undefined) this.#size = fs.fstatSync(this.#fd).size;
    if (this.#size === 0 || this.#size + bytes <= max) return;
    const file = this.#settings.path;
    if (this.#fd !== undefined) fs.closeSync(this.#fd);
    this.#fd = undefined;
    const keep = this.#settings.keep;
    if (keep === 0) {
      fs.rmSync(file, { force: true });
    } else {
      fs.rmSync(`${file}.${keep}`, { force: true });
      for (let i = keep - 1; i >= 1; i--) {
        if (fs.existsSync(`${file}.${i}`)) fs.renameSync(`${file}.${i}`, `${file}.${i + 1}`);
      }
      fs.renameSync(file, `${file}.1`);
    }
    this.#openFile();
  }

  #openFile(): void {
    const file = this.#settings.path;
    // One level at a time: Node's recursive mkdir spins forever under /proc (trial 28 newU F14).
    makeDirLevelsSync(path.dirname(file));
    // 'a': O_WRONLY | O_CREAT | O_APPEND, so every write lands at the end even when another
    // process (a second server on the same storage, a log shipper's truncation) moved it.
    this.#fd = fs.openSync(file, 'a', AUDIT_FILE_MODE);
    this.#size = fs.fstatSync(this.#fd).size;
  }

  /** A failed append: its events are lost (counted), logged at most once a minute, never thrown. */
  #failed(err: unknown, count: number): void {
    this.#dropped.inc({ reason: 'write_failed' }, count);
    this.#failuresSinceLog += 1;
    const now = this.#now();
    if (now - this.#lastFailureLog < FAILURE_LOG_MS) return;
    this.#lastFailureLog = now;
    this.#log.error(
      { err, path: this.#settings.path, failedWrites: this.#failuresSinceLog },
      'audit log write failed: events are dropped (nora_audit_dropped_total) until it works again; requests are not affected',
    );
    this.#failuresSinceLog = 0;
    // A descriptor that failed (a file removed under a read-only remount) is reopened next time.
    if (this.#fd !== undefined) {
      try {
        fs.closeSync(this.#fd);
      } catch {
        // already gone
      }
      this.#fd = undefined;
    }
  }
}
