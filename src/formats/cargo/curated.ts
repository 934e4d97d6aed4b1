/**
 * Curation on the Cargo proxy (src/curation/types.ts): the proxy source wrapped so every proxy
 * read (a proxy repository's, a group's proxy members', a publish's dependency look-up) passes
 * the gate. A crate in an internal namespace is never asked upstream. In enforce, a blocked
 * version's line leaves the index file (removed, not marked yanked: a yanked line still
 * resolves for a Cargo.lock that pins it, and the build would then fail at the download
 * instead of at resolution with the version named), and its `.crate` download is refused with
 * 403 and the reason, also when the file is already cached.
 */
import { quarantineCheck } from '../../curation/quarantine.ts';
import type { CurationGate } from '../../curation/types.ts';
import type { CargoSource } from './model.ts';

/** `source` (the proxy's) behind `gate`. */
export function curatedCargoSource(source: CargoSource, gate: CurationGate): CargoSource {
  return {
    async indexFile(repo, name) {
      if (gate.isInternal('cargo', name)) return undefined;
      const file = await source.indexFile(repo, name);
      if (file === undefined || gate.mode() !== 'enforce') return file;
      const entries = file.entries.filter(
        (entry) => !gate.hides({ registry: 'cargo', name: entry.name, version: entry.vers }),
      );
      return entries.length === file.entries.length ? file : { ...file, entries };
    },
    async openCrate(repo, name, version) {
      if (gate.isInternal('cargo', name)) return undefined;
      // With quarantine on, judge the hold by the index line's checksum (the digest
      // quarantineCheck uses after the open), so a cached crate's refusal and WARN line name the
      // digest as a fill's do.
      let digest: string | undefined;
      if (gate.timeSettings('cargo').quarantine !== 'off') {
        const index = await source.indexFile(repo, name).catch(() => undefined);
        const cksum = index?.entries.find((entry) => entry.vers === version)?.cksum;
        digest = cksum === undefined ? undefined : `sha256:${cksum}`;
      }
      gate.guard({ registry: 'cargo', name, version, digest });
      const crate = await source.openCrate(repo, name, version);
      if (crate !== undefined) {
        const subject = {
          registry: 'cargo' as const,
          name,
          version,
          digest: `sha256:${crate.sha256}`,
        };
        quarantineCheck(gate, subject, crate.filled === true);
      }
      return crate;
    },
  };
}
