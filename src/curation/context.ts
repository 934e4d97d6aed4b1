/**
 * The request a curation decision is made for: app.ts runs each HTTP request inside
 * `curationRequest.run({ bypassToken }, …)` (before Fastify), so the gate reads the client's
 * `X-Nora-Bypass-Token` without every format passing its request down.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { ServerResponse } from 'node:http';

export interface CurationRequest {
  /** The `X-Nora-Bypass-Token` header as sent, if any. */
  readonly bypassToken: string | undefined;
  /**
   * Who sent the request, once authentication has run (CurationEngine.admitBypass): named on
   * every `bypassed` log line, so the use of the override is attributable.
   */
  who?: BypassWho;
  /**
   * Whether the bypass is granted, judged once per request by CurationEngine.admitBypass (the
   * token, and with auth on an authenticated principal); undefined: not judged yet.
   */
  granted?: boolean;
  /**
   * The decisions this request counted (`registry name version decision reason`): a group
   * trying several proxy members counts one client request once (CurationEngine.guard).
   */
  counted?: Set<string>;
}

/** The request a bypass is logged with: request id, principal (user name or `anonymous`), client. */
export interface BypassWho {
  readonly reqId: string;
  readonly user: string;
  readonly client: string | undefined;
}

export const curationRequest = new AsyncLocalStorage<CurationRequest>();

/** The header a client sends to pass curation (compared with NORA_CURATION_BYPASS_TOKEN). */
export const BYPASS_HEADER = 'x-nora-bypass-token';

/**
 * Makes every answer to a request carrying `X-Nora-Bypass-Token` uncacheable by shared caches:
 * `Cache-Control: private, no-store` whatever the route sets, and `Vary` naming the header.
 * A bypassed 200 for a URL that is 403 without the header would otherwise be kept by a reverse
 * proxy or CDN (PyPI files and crates say `public, max-age=31536000, immutable`) and served to
 * every client (trial 27 newC F5). One place for all formats: the route's own `Cache-Control`
 * is dropped, its `Vary` kept and extended. Fastify's `writeHead(status, headers)` on a response
 * whose headers were started with `setHeader` sets each through `setHeader`, so the instance's
 * `setHeader` sees them all.
 */
export function privateBypassAnswer(res: ServerResponse): void {
  const set = res.setHeader.bind(res);
  set('cache-control', 'private, no-store');
  set('vary', BYPASS_VARY);
  res.setHeader = (name: string, value: number | string | readonly string[]) => {
    const key = name.toLowerCase();
    if (key === 'cache-control') return res;
    if (key === 'vary') {
      const names = (Array.isArray(value) ? value.join(',') : String(value))
        .split(',')
        .map((part) => part.trim())
        .filter((part) => part !== '' && part.toLowerCase() !== BYPASS_HEADER);
      return set('vary', [...names, BYPASS_VARY].join(', '));
    }
    return set(name, value);
  };
  // Error answers (a 404) clear the headers a route had begun: these two stay.
  const remove = res.removeHeader.bind(res);
  res.removeHeader = (name: string) => {
    const key = name.toLowerCase();
    if (key !== 'cache-control' && key !== 'vary') remove(name);
  };
}

const BYPASS_VARY = 'X-Nora-Bypass-Token';
