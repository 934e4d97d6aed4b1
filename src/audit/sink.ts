/**
 * The audit sink (src/audit/types.ts): every event goes to the activity ring; with `[audit] log`
 * other than `off`, to a bounded queue that a timer flushes as one append of JSON lines.
 */
import { ActivityRing } from './activity.ts';
import type { ActivityFeed, AuditAction, AuditEvent, AuditSink } from './types.ts';
import { DEFAULT_AUDIT_ACTIONS } from './types.ts';

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
