/**
 * What the web UI shows of curation's decision on a proxied version (trial 31 fixC): the
 * engine's own verdict (`CurationGate.decide`, the decision and message a download of it gets;
 * not counted, not logged), as a version's badge and a `curation` fact. A quarantine hold is
 * `held until <release>`, any other refusal `refused by curation[: <operator's reason>]`. Every
 * format's proxy page asks here, so a version a download refuses is marked, and left out of the
 * install line, the same way everywhere.
 */
import type { CurationGate, CurationSubject, CurationVerdict } from '../curation/types.ts';
import type { BrowseCurationFact, BrowseMark, BrowseVersion } from './types.ts';

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

/** A proxy's cached versions with curation's marks (`curatedVersions`). */
export interface CuratedVersions<V extends BrowseVersion> {
  /** The versions as given, a refused one's badge added to its marks. */
  readonly versions: V[];
  /** Whether a download of `version` is served (an install line may name it). */
  readonly served: (version: string) => boolean;
  /** The first refused version's fact (in the order given: newest first), if any is refused. */
  readonly fact: BrowseCurationFact | undefined;
}

/**
 * Curation's verdict on each of a proxy's cached `versions` (newest first), judged by the
 * subjects its download is judged by (`subjects`: one per file where the quarantine keys files
 * by digest; a version is refused when any of them is): every format's proxy page marks them
 * alike and names no refused version in its install line.
 */
export function curatedVersions<V extends BrowseVersion>(
  gate: CurationGate | undefined,
  versions: readonly V[],
  subjects: (version: V) => readonly CurationSubject[],
): CuratedVersions<V> {
  const judged = new Map<string, CurationShown>();
  for (const v of versions) {
    for (const subject of gate === undefined ? [] : subjects(v)) {
      const shown = curationShown(gate, subject);
      if (shown === undefined) continue;
      judged.set(v.version, shown);
      break;
    }
  }
  const first = versions.find((v) => judged.has(v.version));
  return {
    versions: versions.map((v) => {
      const shown = judged.get(v.version);
      return shown === undefined ? v : { ...v, marks: [...(v.marks ?? []), shown.mark] };
    }),
    served: (version) => !judged.has(version),
    fact: first === undefined ? undefined : judged.get(first.version)?.fact,
  };
}
