/** Configuration checks as the unit tests call them: warnings of a raw config, and its error. */
import assert from 'node:assert/strict';
import { checkConfig } from '../../src/app.ts';
import { ConfigError, parseConfigObject } from '../../src/config/load.ts';

/** The warnings `nora config check` gives for `raw` (TOML-shaped) with NORA_* `env` on top. */
export function configWarnings(
  raw: Record<string, unknown>,
  env: Record<string, string> = {},
): string[] {
  const { config, origins } = parseConfigObject(raw, env);
  return checkConfig(config, undefined, 'file-only', { origins });
}

/** The message of the ConfigError `fn` throws; fails the test when it throws none (or another). */
export function configError(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.message;
  }
  assert.fail('expected a ConfigError');
}
