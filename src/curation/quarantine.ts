/**
 * Digest quarantine (first-seen cooldown, NORA's `NORA_CURATION_QUARANTINE*`): the verdict the
 * engine gives a held artifact, its counter, and the one call every proxy format makes after it
 * opened a proxied artifact (`quarantineCheck`). An artifact a proxy stores for the first time is
 * held for its registry's `quarantine_ttl`: `enforce` refuses it (403 DENIED naming when it is
 * released), `observe` serves it, logs it and counts it in nora_quarantine_holds_total. It
 * protects against a freshly compromised release, which is usually found and pulled within
 * days. Independent of `[curation] mode`; hosted artifacts are never held (only the proxy side
 * of a read calls it). Kept apart from engine.ts (which calls `quarantineVerdict`) so the list
 * and release-age logic there stays its own.
 */
import type { Counter } from 'prom-client';
import type { Metrics } from '../metrics/metrics.ts';
import type {
  CurationGate,
  CurationRegistry,
  CurationSubject,
  CurationVerdict,
  QuarantineHold,
  RegistryTimeSettings,
} from './types.ts';

/** `2026-12-23T10:00:00Z`: what clients and logs are told (no milliseconds). */
export function isoSeconds(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/**
 * The verdict of a held artifact (`what`: `npm left-pad@1.3.0`): enforce → blocked (refuse,
 * unless the bypass was granted: bypassed), observe → audited; reason `quarantine`.
 */
export function quarantineVerdict(what: string, hold: QuarantineHold): CurationVerdict {
  const said = `${what} is in quarantine (first seen ${isoSeconds(hold.firstSeen)}) until ${isoSeconds(hold.until)}`;
  const rule = `quarantine ${hold.mode}`;
  if (hold.mode === 'observe') {
    return {
      decision: 'audited',
      reason: 'quarantine',
      refuse: false,
      message: `curation (quarantine observe): ${said}; served: observe mode`,
      rule,
      until: hold.until,
    };
  }
  if (!hold.refuse) {
    return {
      decision: 'bypassed',
      reason: 'quarantine',
      refuse: false,
      message: `curation: ${said}; served: bypass token`,
      rule,
      until: hold.until,
    };
  }
  return {
    decision: 'blocked',
    reason: 'quarantine',
    refuse: true,
    message: `curation: ${said}; retry after the release time`,
    rule,
    until: hold.until,
  };
}

/** nora_quarantine_holds_total{registry,mode}, registered beside the curation counters. */
export function holdsCounter(metrics: Metrics): Counter<'registry' | 'mode'> {
  return metrics.counter(
    'nora_quarantine_holds_total',
    'Proxied downloads held by the digest quarantine (first seen less than quarantine_ttl ago), by registry and mode (observe: served, enforce: refused)',
    ['registry', 'mode'],
  );
}

/**
 * What a proxy format calls once it has opened a proxied artifact, before it answers: `filled`
 * (the bytes came from an upstream now, not the cache) records `subject` as first seen now
 * (the contract's step 4, whatever the curation settings), then a held artifact goes through
 * `guardHold` (counts and logs it; throws the 403 in enforce); nothing more while quarantine is
 * off for the registry. `subject` must
 * be keyed the same way at every call of one format (with its digest, or never with one).
 */
export function quarantineCheck(
  gate: CurationGate | undefined,
  subject: CurationSubject,
  filled: boolean,
): void {
  if (gate === undefined) return;
  // Recorded with quarantine off too: turned on later, it counts from this fill (trial 30 F2).
  if (filled) gate.recordFirstSeen(subject);
  if (gate.timeSettings(subject.registry).quarantine === 'off') return;
  // Only the hold is judged here: the lists and the min release age were judged by the guard
  // before the fetch, with the format's publish time, which this subject does not carry.
  if (gate.held(subject) !== undefined) gate.guardHold(subject);
}

/**
 * Whether quarantine is on for `registry`: a format that skips curation while `mode` is off
 * still asks the gate then (quarantine is independent of mode).
 */
export function quarantines(gate: CurationGate, registry: CurationRegistry): boolean {
  return gate.timeSettings(registry).quarantine !== 'off';
}

/**
 * `nora curation explain`'s quarantine line for one registry: `quarantine: enforce, 14d (…)`.
 * The first-seen times are the server's (its database): explain does not open it.
 */
export function quarantineLine(times: RegistryTimeSettings): string {
  if (times.quarantine === 'off') return 'quarantine: off';
  const ttl = times.quarantineTtl;
  const human =
    ttl % 86_400 === 0 ? `${ttl / 86_400}d` : ttl % 3600 === 0 ? `${ttl / 3600}h` : `${ttl}s`;
  return `quarantine: ${times.quarantine}, ${human} from first seen (${times.quarantine === 'enforce' ? 'a proxy refuses an artifact it first stored less than that ago; the 403 says when it is released' : 'served, logged and counted while held'})`;
}
