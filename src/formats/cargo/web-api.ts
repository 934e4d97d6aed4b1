/**
 * The JSON documents of Cargo's web API (Cargo book, "Registry web API"), built from plain
 * values: publish warnings, yank/unyank `{"ok": true}`, owners lists and messages, search
 * results, and the error shape `{"errors": [{"detail": "…"}]}` Cargo prints for any 4xx/5xx.
 */
import { RegistryError } from '../../core/errors.ts';
import type { StoredCrate } from './store.ts';

/**
 * `cargo publish`'s answer: categories and badges are not checked; `other` holds the publish's
 * own warnings (a name taken over from a group's proxy, service.ts), which Cargo prints as
 * `warning: …` lines.
 */
export function publishAnswer(other: readonly string[] = []): Record<string, unknown> {
  return { warnings: { invalid_categories: [], invalid_badges: [], other: [...other] } };
}

export function okAnswer(msg?: string): Record<string, unknown> {
  return msg === undefined ? { ok: true } : { ok: true, msg };
}

/**
 * `GET /api/v1/crates/<name>/owners`: `{"users": [{"id", "login", "kind", "name"}]}` as
 * crates.io answers: `id` the user's own integer (the same in every crate and every answer;
 * Cargo reads it as a u32), `kind` `"user"` (crates.io's teams are `"team"`), `name` the login
 * (NORA users have no display name; `cargo owner --list` prints `login (name)`).
 */
export function ownersAnswer(
  users: readonly { readonly id: number; readonly login: string }[],
): Record<string, unknown> {
  return {
    users: users.map(({ id, login }) => ({ id, login, kind: 'user', name: login })),
  };
}

/** `cargo search`'s paging: `per_page` 1–100 (`cargo search --limit`'s own maximum), `page` from 1. */
export interface SearchPaging {
  readonly perPage: number;
  readonly page: number;
}

/**
 * The paging of `GET /api/v1/crates?q=&per_page=&page=` from its query (defaults 10 and 1).
 * Throws RegistryError BAD_REQUEST (400 in Cargo's error shape) for a value that is not a whole
 * number in range, as crates.io refuses bad paging, rather than answering another page than the
 * one asked for.
 */
export function searchPaging(query: URLSearchParams): SearchPaging {
  const perPage = pagingNumber(query, 'per_page', 10, 100);
  const page = pagingNumber(query, 'page', 1);
  return { perPage, page };
}

function pagingNumber(query: URLSearchParams, key: string, fallback: number, max?: number): number {
  const raw = query.get(key);
  if (raw === null || raw === '') return fallback;
  const value = /^\d{1,16}$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(value) || value < 1 || (max !== undefined && value > max)) {
    throw new RegistryError(
      'BAD_REQUEST',
      `${key} must be a whole number from 1${max === undefined ? '' : ` to ${max}`}, not \`${raw.slice(0, 40)}\``,
    );
  }
  return value;
}

/** `GET /api/v1/crates?q=…`: `{"crates": [{"name", "max_version", "description"}], "meta": {"total"}}`. */
export function searchAnswer(
  crates: readonly StoredCrate[],
  total: number,
): Record<string, unknown> {
  return {
    crates: crates.map((c) => ({
      name: c.displayName,
      max_version: c.maxVersion,
      description: c.description ?? '',
    })),
    meta: { total },
  };
}

/**
 * The detail of a 401 for a token NORA does not know, as cargo prints it (trial 34: it printed
 * only `invalid credentials`, where npm's saved anonymous token gets "run npm login"): the usual
 * cause is a token `cargo login` saved while auth was off (any string is accepted then), or one
 * since revoked or expired.
 */
export const CARGO_INVALID_TOKEN =
  "invalid credentials: NORA knows no such token (a token `cargo login` saved while auth was off, or one revoked or expired); make a NORA API token (`nora token create --user <you>`, the web UI's Tokens page, or POST /api/tokens) and save it with `cargo login --registry <name>` (the registry's name in .cargo/config.toml)";

/** Cargo's error document. */
export function errorAnswer(detail: string): Record<string, unknown> {
  return { errors: [{ detail }] };
}

/**
 * The `users` list of an owners PUT/DELETE body (`{"users": ["login", …]}`); undefined when the
 * body is not of that shape.
 */
export function ownerLogins(body: unknown): string[] | undefined {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return undefined;
  const users = (body as Record<string, unknown>)['users'];
  if (!Array.isArray(users) || users.length === 0 || users.length > 100) return undefined;
  if (!users.every((u): u is string => typeof u === 'string' && u !== '' && u.length <= 256)) {
    return undefined;
  }
  return users;
}
