/**
 * What the Cargo benches share (run.ts, compare.ts, warm-rounds.ts): one timed `cargo fetch`.
 */
import fs from 'node:fs/promises';
import { findTool, run } from '../../test/helpers/tools.ts';
import { tmp } from '../harness.ts';
import {
  cargoEnv,
  downloadedCrates,
  lockedPackages,
  writeConsumer,
  writeSourceReplacement,
  type TreeManifest,
} from '../../test/e2e/cargo-proxy/real-tree.ts';

export const CARGO = findTool('cargo') ?? 'cargo';

/**
 * One `cargo fetch --locked` of `consumer`'s lockfile through the sparse index at `index`, with an
 * empty CARGO_HOME (removed afterwards); seconds of wall time. With `expected`, throws unless
 * that many crates were downloaded.
 */
export async function cargoFetch(
  consumer: string,
  index: string,
  expected?: number,
): Promise<number> {
  await writeSourceReplacement(consumer, index);
  const home = await tmp('nora-bench-cargo-home-', { readable: true });
  const started = performance.now();
  await run(CARGO, ['fetch', '--locked'], {
    cwd: consumer,
    env: cargoEnv(home),
    timeoutMs: 600_000,
  });
  const seconds = (performance.now() - started) / 1000;
  if (expected !== undefined) {
    const fetched = (await downloadedCrates(home)).size;
    if (fetched !== expected)
      throw new Error(`cargo fetched ${fetched} crates from ${index}, expected ${expected}`);
  }
  await fs.rm(home, { recursive: true, force: true });
  return seconds;
}

/**
 * A consumer project depending on every crate of `manifest`, its lockfile generated against the
 * sparse index at `index`: its directory and how many crates the lockfile names (itself not
 * counted).
 */
export async function lockedConsumer(
  manifest: TreeManifest,
  index: string,
): Promise<{ consumer: string; crates: number }> {
  const consumer = await tmp('nora-bench-cargo-consumer-', { readable: true });
  await writeConsumer(consumer, manifest, index);
  await run(CARGO, ['generate-lockfile'], {
    cwd: consumer,
    env: cargoEnv(await tmp('nora-bench-cargo-home-', { readable: true })),
    timeoutMs: 300_000,
  });
  return { consumer, crates: (await lockedPackages(consumer)).length - 1 };
}
