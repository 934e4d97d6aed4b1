/**
 * npm proxy repositories on the shared proxy engine (src/proxy). Placeholder until the engine
 * lands: no upstreams, so proxy members contribute nothing.
 */
import type { FormatContext } from '../format.ts';
import type { Repository } from '../../repos/repository.ts';
import type { NpmStore } from './store.ts';
import type { NpmUpstream } from './upstream.ts';

export interface Upstreams {
  get(repo: Repository): NpmUpstream | undefined;
}

export function createUpstreams(_context: FormatContext, _store: NpmStore): Upstreams {
  return { get: () => undefined };
}
