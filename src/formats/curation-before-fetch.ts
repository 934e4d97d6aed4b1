/**
 * The curation check a proxy format may make BEFORE it knows whether an artifact exists (before
 * the cache or an upstream is asked). A version without a trusted publish date and never seen
 * is refused by `gate.decide` as "not seen before" (the min release age counts from the first
 * request), but it may not exist at all: refusing it then tells a client something false (a
 * 403 "available from …" for a typo, and `go` needs the 404 to fall back to a shorter module
 * path) and its `guard` would record a first-seen row for it (trial 29 F1). So before a fetch
 * only what is known refuses: a list rule, an unavailable policy, a quarantine hold, or a min
 * release age judged on a known publish or first-seen time. The full `gate.guard` (which
 * records first-seen and refuses a never-seen version) runs once the artifact is found.
 */
import type { CurationGate, CurationSubject } from '../curation/types.ts';

/** True when `subject` is refused whether or not it exists upstream (not counted). */
export function refusedBeforeFetch(gate: CurationGate, subject: CurationSubject): boolean {
  const verdict = gate.decide(subject);
  if (!verdict.refuse) return false;
  // `hides` judges the min release age only on a known time (never-seen versions pass it).
  return verdict.reason !== 'min_release_age' || gate.hides(subject);
}
