/**
 * The server's logger options: the single choke point every log line passes through on its way
 * out. Whatever a caller logs (the access log's request URL, an error and its stack, a proxy
 * warning, a config reload message), strings are run through core/redact.ts first, so a
 * credential in a URL (`npm logout` sends `DELETE /-/user/token/<token>`), a header or an error
 * message never reaches a log line.
 */
import type { LogFn, LoggerOptions } from 'pino';
import { stdSerializers } from 'pino';
import { RequestBodyStalledError } from '../core/errors.ts';
import { REDACTED, redactDeep, redactText } from '../core/redact.ts';

/** Errors as pino prints them, with message, stack and causes redacted. */
function redactedError(err: Error): Record<string, unknown> {
  // pino's serialised error has a prototype of its own: copy it to a plain object to walk it.
  const out = { ...(stdSerializers.err(err) as unknown as Record<string, unknown>) };
  return redactDeep(out) as Record<string, unknown>;
}

/** Options for Fastify's `logger` (pino): `level` plus redaction of every line. */
export function loggerOptions(level: string): LoggerOptions {
  return {
    level,
    hooks: {
      logMethod(args: Parameters<LogFn>, method: LogFn) {
        // An upload cut for a stalled body, failing after its 408 was sent (Fastify: "Promise
        // errored, but reply.sent = true was set"): expected, and the access line has the 408.
        const first: unknown = args[0];
        if (
          typeof first === 'object' &&
          first !== null &&
          (first as { err?: unknown }).err instanceof RequestBodyStalledError
        ) {
          return;
        }
        const redacted = args.map((arg) => redactDeep(arg)) as Parameters<LogFn>;
        method.apply(this, redacted);
      },
    },
    serializers: {
      err: redactedError,
      error: (value: unknown) => (value instanceof Error ? redactedError(value) : value),
      // Request logging is off (hooks.ts writes the access log), but a caller may log a request.
      req: (req: { method?: string; url?: string }) => ({
        method: req.method,
        url: redactText(req.url ?? ''),
      }),
    },
    // Belt and braces for headers logged by path (pino removes them before serialising).
    redact: {
      paths: [
        'headers.authorization',
        'headers.cookie',
        'req.headers.authorization',
        'req.headers.cookie',
        'request.headers.authorization',
        'request.headers.cookie',
      ],
      censor: REDACTED,
    },
  };
}
