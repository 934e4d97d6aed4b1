/**
 * The activity feed: a fixed ring of the newest audit events (NORA keeps 50 for its dashboard).
 * `push` is O(1) and allocates nothing; `recent` copies, newest first.
 */
import type { ActivityFeed, ActivityFilter, AuditEvent } from './types.ts';

/** NORA's dashboard shows the last 50 events. */
export const ACTIVITY_CAPACITY = 50;

export class ActivityRing implements ActivityFeed {
  readonly capacity: number;
  readonly #slots: (AuditEvent | undefined)[];
  /** Index the next event is written at. */
  #next = 0;
  #size = 0;

  constructor(capacity: number = ACTIVITY_CAPACITY) {
    this.capacity = capacity;
    this.#slots = new Array<AuditEvent | undefined>(capacity).fill(undefined);
  }

  push(event: AuditEvent): void {
    this.#slots[this.#next] = event;
    this.#next = (this.#next + 1) % this.capacity;
    if (this.#size < this.capacity) this.#size += 1;
  }

  /**
   * At most `limit` events (default and cap: the capacity), newest first, those matching
   * `filter` (`format`: the event's `registry`; `actions`: any of them).
   */
  recent(limit: number = this.capacity, filter?: ActivityFilter): readonly AuditEvent[] {
    const wanted = Math.max(0, Math.min(Math.floor(limit), this.capacity));
    const out: AuditEvent[] = [];
    for (let i = 1; i <= this.#size && out.length < wanted; i++) {
      const event = this.#slots[(this.#next - i + this.capacity) % this.capacity];
      if (event === undefined) continue;
      if (filter?.format !== undefined && event.registry !== filter.format) continue;
      if (filter?.actions !== undefined && !filter.actions.includes(event.action)) continue;
      out.push(event);
    }
    return out;
  }
}
