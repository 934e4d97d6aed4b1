/**
 * Debian's chromium driven by playwright-core, for the web UI's browser tests (docs/ui.md):
 * the little of playwright-core they drive, loaded only when installed, and why a test must skip
 * (scripts/install-test-clients.sh installs chromium; playwright-core is a dev dependency).
 */
import { existsSync } from 'node:fs';

export const CHROMIUM = '/usr/bin/chromium';

export interface Page {
  goto(url: string): Promise<unknown>;
  click(selector: string): Promise<void>;
  fill(selector: string, value: string): Promise<void>;
  url(): string;
  textContent(selector: string): Promise<string | null>;
  getAttribute(selector: string, name: string): Promise<string | null>;
  title(): Promise<string>;
  on(event: 'console', listener: (message: { type(): string; text(): string }) => void): void;
}
export interface BrowserContext {
  newPage(): Promise<Page>;
  cookies(): Promise<{ name: string; value: string; path: string }[]>;
  close(): Promise<void>;
}
export interface Chromium {
  launchPersistentContext(dir: string, options: Record<string, unknown>): Promise<BrowserContext>;
}

// A variable specifier: the module is optional (the tests skip without it).
const PLAYWRIGHT = 'playwright-core';

/** playwright-core's chromium launcher, undefined when the package is not installed. */
export const chromium: Chromium | undefined = await import(PLAYWRIGHT).then(
  (m: unknown) => (m as { chromium: Chromium }).chromium,
  () => undefined,
);

/** Why a browser test must skip (chromium or playwright-core missing), else false. */
export function chromiumMissing(): string | false {
  if (!existsSync(CHROMIUM)) {
    return `${CHROMIUM} is not installed (apt-get install chromium; scripts/install-test-clients.sh)`;
  }
  return chromium === undefined ? 'playwright-core is not installed (npm ci)' : false;
}
