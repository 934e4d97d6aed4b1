/**
 * The request a curation decision is made for: app.ts runs each HTTP request inside
 * `curationRequest.run({ bypassToken }, …)` (before Fastify), so the gate reads the client's
 * `X-Nora-Bypass-Token` without every format passing its request down.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

export interface CurationRequest {
  /** The `X-Nora-Bypass-Token` header as sent, if any. */
  readonly bypassToken: string | undefined;
}

export const curationRequest = new AsyncLocalStorage<CurationRequest>();

/** The header a client sends to pass curation (compared with NORA_CURATION_BYPASS_TOKEN). */
export const BYPASS_HEADER = 'x-nora-bypass-token';
