/**
 * Small pieces of the auth tests: a Basic header, an `[[auth.rules]]` entry with defaults, a
 * silent logger and htpasswd file lines.
 */
import bcrypt from 'bcryptjs';
import type { AppConfig } from '../../src/config/schema.ts';
import type { Logger } from '../../src/core/logger.ts';

/** `Authorization: Basic …` for `user` and `password`. */
export const basic = (user: string, password: string): string =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

export type Rule = AppConfig['auth']['rules'][number];

/** A rule as the configuration file gives it: every repository and path, naming nobody, … */
export const rule = (partial: Partial<Rule> & Pick<Rule, 'actions'>): Rule => ({
  repositories: ['*'],
  paths: ['**'],
  users: [],
  groups: [],
  tokens: [],
  anonymous: false,
  ...partial,
});

/** A logger that drops everything (what the auth stores log is not under test). */
export const quietLogger: Logger = {
  error: () => undefined,
  warn: () => undefined,
  info: () => undefined,
  debug: () => undefined,
  child: () => quietLogger,
};

/**
 * htpasswd file content (`htpasswd -B` format) for user name → password, at bcrypt cost 4 to keep
 * tests fast.
 */
export const htpasswdOf = (users: Readonly<Record<string, string>>): string =>
  Object.entries(users)
    .map(([user, password]) => `${user}:${bcrypt.hashSync(password, 4)}\n`)
    .join('');
