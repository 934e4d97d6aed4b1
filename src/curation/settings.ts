/**
 * One registry's time-based curation settings: `[curation.<registry>]` keys override
 * `[curation]`'s (src/config/schema.ts; NORA_CURATION_<REG>_MIN_RELEASE_AGE, …_QUARANTINE,
 * …_QUARANTINE_TTL over NORA_CURATION_MIN_RELEASE_AGE, …). Seconds; 0 = off.
 */
import type { AppConfig } from '../config/schema.ts';
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
