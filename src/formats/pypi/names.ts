/**
 * Project names (PEP 503 normalisation, PEP 508 validity): the one place they are checked.
 */
import { RegistryError } from '../../core/errors.ts';

/** PEP 508 name: ASCII letters/digits, inner `.`, `_`, `-`; starts and ends alphanumeric. */
const VALID_NAME = /^(?:[A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9._-]*[A-Za-z0-9])$/;
/** Longer names exist nowhere in practice; bounds the work a path segment can cause. */
const MAX_NAME_LENGTH = 200;

export function isValidProjectName(name: string): boolean {
  return name.length <= MAX_NAME_LENGTH && VALID_NAME.test(name);
}

/** PEP 503: lowercase, runs of `-`, `_`, `.` → one `-` (`My.Package_x` → `my-package-x`). */
export function normalizeProjectName(name: string): string {
  return name.replace(/[-_.]+/g, '-').toLowerCase();
}

/** A valid name, normalised; throws NAME_INVALID (400) otherwise. */
export function checkProjectName(name: string): string {
  if (!isValidProjectName(name)) {
    throw new RegistryError(
      'NAME_INVALID',
      `invalid project name: ${JSON.stringify(name.slice(0, MAX_NAME_LENGTH + 20))} (PEP 508: letters, digits, ".", "_", "-", starting and ending with a letter or digit)`,
    );
  }
  return normalizeProjectName(name);
}
