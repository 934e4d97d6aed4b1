/**
 * `npm ci` of a fixture project (package.json + package-lock.json) through one registry, as the
 * opt-in real-lockfile test and bench/npm run it: a fresh directory, an empty client cache, no
 * user npmrc, no `npm_*` variables inherited from an npm script that started us.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { run, type RunResult } from './tools.ts';

/** The environment without the `npm_*` variables an enclosing `npm run` sets. */
export function envWithoutNpmVars(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!/^npm_/i.test(key)) env[key] = value;
  }
  return { ...env, ...extra };
}

/**
 * An npm environment isolated in `home`: no inherited `npm_`/`yarn_`/`pnpm_`/`corepack_`
 * variables, its own user npmrc and cache, no update notifier, fund or audit chatter.
 */
export function isolatedNpmEnv(
  home: string,
  extra: Record<string, string> = {},
): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!/^(npm_|yarn_|pnpm_|corepack_)/i.test(key)) env[key] = value;
  }
  return {
    ...env,
    HOME: home,
    NPM_CONFIG_USERCONFIG: path.join(home, '.npmrc'),
    NPM_CONFIG_CACHE: path.join(home, 'npm-cache'),
    NPM_CONFIG_UPDATE_NOTIFIER: 'false',
    NPM_CONFIG_FUND: 'false',
    NPM_CONFIG_AUDIT: 'false',
    ...extra,
  };
}

/**
 * Makes `home` an npm home for `registry` (a URL ending in `/`): an .npmrc naming it, with `auth`
 * for it (`_authToken=…` or `_auth=…`; npm wants one to publish), no fund/audit/update chatter,
 * its own cache, and `extra` lines (`fetch-retries=2`); returns isolatedNpmEnv(home).
 */
export async function npmHome(
  home: string,
  registry: string,
  auth = '_authToken=anonymous',
  extra: readonly string[] = [],
): Promise<NodeJS.ProcessEnv> {
  await fs.mkdir(home, { recursive: true });
  await fs.writeFile(
    path.join(home, '.npmrc'),
    [`registry=${registry}`, `${registry.replace(/^https?:/, '')}:${auth}`, ...extra, ''].join(
      '\n',
    ),
  );
  return isolatedNpmEnv(home);
}

/** Copies the fixture's manifests into `dir` (which must exist) and runs `npm ci` there. */
export async function npmCiFixture(
  fixture: string,
  dir: string,
  registry: string,
  timeoutMs: number,
): Promise<RunResult> {
  for (const file of ['package.json', 'package-lock.json']) {
    await fs.copyFile(path.join(fixture, file), path.join(dir, file));
  }
  await fs.writeFile(path.join(dir, 'npmrc'), '');
  return run(
    'npm',
    [
      'ci',
      '--no-audit',
      '--no-fund',
      '--ignore-scripts',
      '--registry',
      registry,
      '--cache',
      path.join(dir, 'cache'),
    ],
    {
      cwd: dir,
      env: envWithoutNpmVars({ NPM_CONFIG_USERCONFIG: path.join(dir, 'npmrc') }),
      timeoutMs,
    },
  );
}
