/**
 * Cargo proxy repositories — PLACEHOLDER owned by the cargo-proxy work (branch `cargo-proxy`),
 * which replaces this file with the sparse-index proxy on the shared engine (src/proxy/*). Until
 * then a proxy repository has nothing: every index file and `.crate` is absent (404), so the
 * default group still serves cargo-hosted.
 */
import type { FormatContext } from '../format.ts';
import type { CargoSource, IndexFile, OpenedCrate } from './model.ts';

/** The CargoSource of proxy repositories (index.ts calls this once at registration). */
export function createCargoProxy(_context: FormatContext): CargoSource {
  return {
    indexFile: (): Promise<IndexFile | undefined> => Promise.resolve(undefined),
    openCrate: (): Promise<OpenedCrate | undefined> => Promise.resolve(undefined),
  };
}
