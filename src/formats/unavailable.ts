/**
 * A mount for a format that is disabled in config or not built yet: its URLs exist and answer a
 * clear 404 instead of falling through to a generic "not found", for every method and whatever
 * body a client sends (the app reads no body outside a format, so nothing is parsed here).
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { AppConfig, FormatName, RepositoryConfig } from '../config/schema.ts';
import type { FormatModule } from './format.ts';

export function unavailableMount(scope: FastifyInstance, mount: string, message: string): void {
  const handler = async (_request: unknown, reply: FastifyReply) =>
    reply.code(404).type('text/plain; charset=utf-8').send(`${message}\n`);
  scope.all(mount, handler);
  scope.all(`${mount}/*`, handler);
}

/** A format whose protocol is not implemented in this build yet (answers 404 with a reason). */
export function notYetBuilt(format: FormatName, mount: string): FormatModule {
  return {
    format,
    mount,
    defaultRepository: format,
    defaultRepositories: (_config: AppConfig): RepositoryConfig[] => [
      { name: format, format, kind: 'hosted', members: [], upstreams: [] },
    ],
    register(scope, context) {
      const message = `the ${format} registry is not available in this build yet`;
      unavailableMount(scope, mount, message);
      // Named repositories of this format say so too, rather than a generic "not found".
      for (const repo of context.repositories.byFormat(format).filter((r) => !r.isDefault)) {
        unavailableMount(scope, `/repository/${repo.name}`, message);
      }
      return Promise.resolve();
    },
  };
}
