/**
 * Shared checks of the property tests of untrusted-input parsers (test/unit/<format>/
 * parsers.property.test.ts): a parser either answers or refuses with a RegistryError of the
 * status the protocol gives bad input; anything else thrown (a TypeError, a RangeError) would
 * reach the client as a 500.
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { EnvValueError } from '../../src/config/env.ts';
import { isRegistryError } from '../../src/core/errors.ts';

/**
 * Runs `fn`; anything it throws must be a RegistryError whose status `accepted` allows: a list
 * of statuses (default `[400]`) or a range `[min, max]` given as `{ min, max }`.
 */
export function onlyRegistryErrors(
  fn: () => unknown,
  accepted: readonly number[] | { readonly min: number; readonly max: number } = [400],
): void {
  try {
    fn();
  } catch (err) {
    assert.ok(isRegistryError(err), `unexpected ${String(err)}`);
    const ok = Array.isArray(accepted)
      ? accepted.includes(err.status)
      : err.status >= (accepted as { min: number }).min &&
        err.status <= (accepted as { max: number }).max;
    assert.ok(ok, `status ${err.status}: ${err.message}`);
  }
}

/**
 * The entries an upstream-list parser (`parseHelmUpstreamList`, `parseMavenUpstreamList`,
 * `parsePypiUpstreamList`: `(value) => entries`) gives for `value`. The parsers are total on
 * NORA's comma syntax; a value starting with `[` is the file's array syntax (trial 20 authx F4):
 * an array of tables and URLs, or EnvValueError (a config error). Fails the test on any other
 * exception, or on an EnvValueError for a value that is not array syntax; a refused array gives
 * `[]`.
 */
export function upstreamEntries(parse: (value: string) => unknown[], value: string): unknown[] {
  try {
    return parse(value);
  } catch (err) {
    assert.ok(err instanceof EnvValueError, String(err));
    assert.ok(value.trim().startsWith('['), value);
    return [];
  }
}

/** onlyRegistryErrors for an async `fn` (its rejection is checked the same way). */
export async function onlyRegistryErrorsAsync(
  fn: () => Promise<unknown>,
  accepted: readonly number[] | { readonly min: number; readonly max: number } = [400],
): Promise<void> {
  let failure: unknown;
  try {
    await fn();
    return;
  } catch (err) {
    failure = err;
  }
  onlyRegistryErrors(() => {
    throw failure;
  }, accepted);
}

const numericId = fc.oneof(fc.constant('0'), fc.stringMatching(/^[1-9][0-9]{0,5}$/));
const prereleaseId = fc.oneof(numericId, fc.stringMatching(/^[0-9]*[A-Za-z-][0-9A-Za-z-]{0,5}$/));
const buildId = fc.stringMatching(/^[0-9A-Za-z-]{1,6}$/);

/**
 * SemVer 2.0.0 versions (semver.org's grammar: no leading zeros, optional prerelease and build
 * metadata): `text` as written, `key` without the build metadata (its precedence class).
 */
export const semver2 = fc
  .tuple(
    numericId,
    numericId,
    numericId,
    fc.option(fc.array(prereleaseId, { minLength: 1, maxLength: 3 })),
    fc.option(fc.array(buildId, { minLength: 1, maxLength: 3 })),
  )
  .map(([a, b, c, pre, build]) => {
    const key = `${a}.${b}.${c}${pre ? `-${pre.join('.')}` : ''}`;
    return { text: `${key}${build ? `+${build.join('.')}` : ''}`, key };
  });

/**
 * This process's CPU time so far (user + system, all threads), in ms: the clock of the work
 * bounds ("a quadratic parser would take minutes"). Wall time is not: on a machine running other
 * jobs (load 10+) a linear parse took 6–8 s of wall time and failed a 5 s bound.
 */
export function cpuNow(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}
