/** Small pieces of the auth tests: a Basic header and an `[[auth.rules]]` entry with defaults. */
import type { AppConfig } from '../../src/config/schema.ts';

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
