/**
 * Per-upstream circuit breaker: after `threshold` consecutive failures an upstream is skipped
 * (open) for `resetTimeoutMs`; then exactly one probe request is let through (half-open). A
 * successful probe closes the circuit, a failed one re-opens it. This keeps a dead upstream from
 * adding its whole timeout to every request.
 */

export type CircuitState = 'closed' | 'open' | 'half_open';

export interface CircuitBreakerSettings {
  readonly enabled: boolean;
  readonly threshold: number;
  readonly resetTimeoutMs: number;
}

export interface CircuitSnapshot {
  readonly state: CircuitState;
  readonly consecutive_failures: number;
  /** Epoch ms of the last failure, if any. */
  readonly last_failure_at: number | undefined;
}

/** Numeric encoding for the `nora_circuit_breaker_state` gauge. */
export const CIRCUIT_STATE_VALUE: Readonly<Record<CircuitState, number>> = {
  closed: 0,
  half_open: 1,
  open: 2,
};

export class CircuitBreaker {
  readonly #settings: () => CircuitBreakerSettings;
  readonly #now: () => number;
  #failures = 0;
  #openedAt = 0;
  #lastFailureAt: number | undefined;
  #open = false;
  #probing = false;
  readonly #listeners: ((state: CircuitState) => void)[] = [];

  /** Settings are read per call so a config reload applies at once. */
  constructor(settings: () => CircuitBreakerSettings, now: () => number = Date.now) {
    this.#settings = settings;
    this.#now = now;
  }

  get state(): CircuitState {
    if (!this.#open) return 'closed';
    return this.#now() - this.#openedAt >= this.#settings().resetTimeoutMs ? 'half_open' : 'open';
  }

  onStateChange(listener: (state: CircuitState) => void): void {
    this.#listeners.push(listener);
  }

  /**
   * Asks to send one request. false = skip this upstream. In half-open state only one caller
   * gets true (the probe) until it reports back.
   */
  tryAcquire(): boolean {
    if (!this.#settings().enabled) return true;
    const state = this.state;
    if (state === 'closed') return true;
    if (state === 'open' || this.#probing) return false;
    this.#probing = true;
    this.#emit();
    return true;
  }

  /** The upstream answered (any HTTP response that is not a 5xx counts as alive). */
  recordSuccess(): void {
    const wasOpen = this.#open;
    this.#failures = 0;
    this.#open = false;
    this.#probing = false;
    if (wasOpen) this.#emit();
  }

  /** Connect error, timeout, or 5xx. */
  recordFailure(): void {
    const settings = this.#settings();
    this.#failures += 1;
    this.#lastFailureAt = this.#now();
    const reopen = this.#probing || (!this.#open && this.#failures >= settings.threshold);
    this.#probing = false;
    if (reopen && settings.enabled) {
      this.#open = true;
      this.#openedAt = this.#now();
      this.#emit();
    }
  }

  /** A probe that ended without a verdict (e.g. the caller gave up) frees the half-open slot. */
  release(): void {
    this.#probing = false;
  }

  snapshot(): CircuitSnapshot {
    return {
      state: this.state,
      consecutive_failures: this.#failures,
      last_failure_at: this.#lastFailureAt,
    };
  }

  #emit(): void {
    const state = this.state;
    for (const listener of this.#listeners) listener(state);
  }
}
