/**
 * What the web UI shows of curation's decision on a proxied version (trial 31 fixC): the
 * engine's own verdict (`CurationGate.decide`, the decision and message a download of it gets;
 * not counted, not logged), as a version's badge and a `curation` fact. A quarantine hold is
 * `held until <release>`, any other refusal `refused by curation[: <operator's reason>]`. Every
 * format's proxy page asks here, so a version a download refuses is marked, and left out of the
 * install line, the same way everywhere.
 */
import type { CurationGate, CurationSubject, CurationVerdict } from '../curation/types.ts';
import type { BrowseCurationFact, BrowseMark } from './types.ts';

/** A refused version's verdict as the UI shows it; undefined when a download gets it. */
export interface CurationShown {
  readonly mark: BrowseMark;
  readonly fact: BrowseCurationFact;
}

/**
 * The mark and fact of `subject` (pass `publishedAt`/`integrity`/`digest` as the format's
 * download passes them, so the verdict is the same), or undefined when `gate` is absent or the
 * download would be served.
 */
export function curationShown(
  gate: CurationGate | undefined,
  subject: CurationSubject,
): CurationShown | undefined {
  const verdict = gate?.decide(subject);
  if (verdict?.refuse !== true) return undefined;
  return { mark: curationMark(verdict), fact: curationFact(subject, verdict) };
}

function curationMark(verdict: CurationVerdict): BrowseMark {
  if (verdict.reason === 'quarantine' && verdict.until !== undefined) {
    return { mark: 'held', until: verdict.until };
  }
  return verdict.note === undefined
    ? { mark: 'refusedByCuration' }
    : { mark: 'refusedByCuration', detail: verdict.note };
}

function curationFact(subject: CurationSubject, verdict: CurationVerdict): BrowseCurationFact {
  return {
    label: 'curation',
    value: verdict.message,
    reason: verdict.reason,
    subject: `${subject.registry} ${subject.name}${subject.version === undefined ? '' : `@${subject.version}`}`,
    ...(verdict.rule === undefined ? {} : { rule: verdict.rule }),
    ...(verdict.note === undefined ? {} : { note: verdict.note }),
    ...(verdict.until === undefined ? {} : { until: verdict.until }),
  };
}
