/**
 * One registry's time-based curation settings: `[curation.<registry>]` keys override
 * `[curation]`'s (src/config/schema.ts; NORA_CURATION_<REG>_MIN_RELEASE_AGE, …_QUARANTINE,
 * …_QUARANTINE_TTL over NORA_CURATION_MIN_RELEASE_AGE, …). Seconds; 0 = off.
 */
import { type AppConfig, FORMAT_NAMES } from '../config/schema.ts';
import { formatDuration } from '../config/fields.ts';
import type { CurationRegistry, RegistryTimeSettings } from './types.ts';

export function registrySettings(
  config: AppConfig['curation'],
  registry: CurationRegistry,
): RegistryTimeSettings {
  const own = config[registry];
  return {
    minReleaseAge: own.min_release_age ?? config.min_release_age,
    quarantine: own.quarantine ?? config.quarantine,
    quarantineTtl: own.quarantine_ttl ?? config.quarantine_ttl,
  };
}

/**
 * The upstream publish time each dated registry's min release age counts from (types.ts
 * `publishedAt`); the others (Cargo, Docker, Maven, raw) count from when NORA first saw the
 * artifact, so an old version fetched for the first time is refused for the whole age.
 */
export const PUBLISH_TIMES: Readonly<Partial<Record<CurationRegistry, string>>> = {
  npm: 'the packument time[version]',
  pypi: 'the PEP 700 upload-time',
  go: 'the .info Time',
  helm: 'the index.yaml created',
};

/** `nora curation explain`'s min release age line for `registry`. */
export function minAgeLine(times: RegistryTimeSettings, registry: CurationRegistry): string {
  if (times.minReleaseAge <= 0) return 'min_release_age: off';
  const basis = PUBLISH_TIMES[registry];
  return `min_release_age: ${formatDuration(times.minReleaseAge)}, counted from ${
    basis === undefined
      ? 'when NORA first saw the artifact (no upstream publish date: the first download of any version, however old, is refused for the whole age)'
      : `${basis} (else from first seen)`
  }`;
}

/**
 * Warnings `nora config check` and `serve` print for `[curation]`: a min release age on
 * registries without an upstream date (it refuses old artifacts on their first fetch), and
 * `quarantine = "enforce"` with a TTL of 0 (holds nothing).
 */
export function curationWarnings(config: AppConfig['curation']): string[] {
  const warnings: string[] = [];
  const settings = FORMAT_NAMES.map((registry) => ({
    registry,
    times: registrySettings(config, registry),
  }));
  const undated = settings
    .filter(({ registry, times }) => times.minReleaseAge > 0 && !(registry in PUBLISH_TIMES))
    .map(({ registry }) => registry);
  if (config.mode !== 'off' && undated.length > 0) {
    warnings.push(
      `curation: min_release_age counts from when NORA first saw an artifact for ${undated.join(', ')} (no upstream publish date): the first download of any version, however old, is refused (enforce) or audited for the whole age; set [curation.<registry>] min_release_age = 0 there (e.g. [curation.${undated[0]}] min_release_age = 0), or use quarantine instead (docs/curation.md "Minimum release age")`,
    );
  }
  const idle = settings
    .filter(({ times }) => times.quarantine === 'enforce' && times.quarantineTtl <= 0)
    .map(({ registry }) => registry);
  if (idle.length > 0) {
    warnings.push(
      `curation: quarantine = "enforce" with quarantine_ttl = 0 holds nothing for ${idle.join(', ')}: set a quarantine_ttl (e.g. "14d") or quarantine = "off"`,
    );
  }
  return warnings;
}
