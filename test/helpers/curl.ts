/** curl for e2e tests: the status and headers it saw, and the sha256 of what it wrote. */
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import { run, type RunOptions, type RunResult } from './tools.ts';

export interface CurlResult extends RunResult {
  /** The last answer's status (`-w %{http_code}`), 0 when there was none. */
  readonly status: number;
  /** What curl wrote to stdout before the status line (the body unless `-o` was given). */
  readonly body: string;
}

/** `curl -sS <args>`; never throws on curl's exit code (`code` says it). */
export async function curl(args: readonly string[], options: RunOptions = {}): Promise<CurlResult> {
  const result = await run('curl', ['-sS', '-w', '\n%{http_code}', ...args], {
    check: false,
    timeoutMs: 60_000,
    ...options,
  });
  const lines = result.stdout.split('\n');
  return { ...result, status: Number(lines.at(-1)), body: lines.slice(0, -1).join('\n') };
}

/** The headers of a GET of `url` (body discarded), names in lower case; `args` go first. */
export async function curlHeaders(
  url: string,
  args: readonly string[] = [],
): Promise<{ status: number; headers: Record<string, string> }> {
  const result = await run('curl', ['-sS', '-o', '/dev/null', '-D', '-', ...args, url], {
    timeoutMs: 60_000,
  });
  const headers: Record<string, string> = {};
  let status = 0;
  for (const line of result.stdout.split(/\r?\n/)) {
    const statusLine = /^HTTP\/[\d.]+ (\d{3})/.exec(line);
    if (statusLine !== null) {
      status = Number(statusLine[1]);
      continue;
    }
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { status, headers };
}

export const sha256 = (body: Buffer | string): string =>
  createHash('sha256').update(body).digest('hex');

export async function sha256File(file: string): Promise<string> {
  return sha256(await fs.readFile(file));
}
