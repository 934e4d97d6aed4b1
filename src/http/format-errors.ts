/**
 * The error answer format routes share: the RegistryError's status and headers, a Basic
 * challenge on 401, and a log line for NORA's own faults. Each format renders the body in its
 * protocol's shape (plain text for Maven, Go and raw; `{"error"}` for Helm's ChartMuseum API).
 */
import { STATUS_CODES } from '../core/node-http.ts';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { type RegistryError, toRegistryError } from '../core/errors.ts';

/**
 * Headers describing the representation a handler was about to send, set before its body
 * failed: a stored file or proxied body that errors before its first byte (a fill failing its
 * digest check) is answered by the error handler on the same reply. Left in place they would
 * give an error body the file's ETag, Last-Modified and `Cache-Control: immutable` (a cache could
 * keep the error for a year), its Content-Type, Range or encoding.
 */
const REPRESENTATION_HEADERS = [
  'etag',
  'last-modified',
  'cache-control',
  'content-length',
  'content-range',
  'content-encoding',
  'content-disposition',
  'content-type',
  'accept-ranges',
] as const;

/** Removes what a handler set for the success answer it did not send (see above). */
export function dropRepresentationHeaders(reply: FastifyReply): void {
  for (const name of REPRESENTATION_HEADERS) reply.removeHeader(name);
}

/** The challenge clients of Basic-auth protocols (mvn, go, curl, helm) answer with credentials. */
export const BASIC_CHALLENGE = 'Basic realm="nora"';

/**
 * Sets `reply`'s status and headers from `err` (converted by `toError`) in place of any the
 * handler had set for its answer (dropRepresentationHeaders), adds the Basic challenge
 * on a 401, and logs a 5xx as `<label> request failed` — except 501/502/504, which name what is
 * not built or an upstream's failure, not a fault of ours. Returns the error for the body.
 */
export function prepareErrorReply(
  err: unknown,
  request: FastifyRequest,
  reply: FastifyReply,
  label: string,
  toError: (err: unknown) => RegistryError = toRegistryError,
): RegistryError {
  const error = toError(err);
  if (error.status >= 500 && ![501, 502, 504].includes(error.status)) {
    request.log.error({ err }, `${label} request failed`);
  }
  const headers: Record<string, string> = { ...(error.headers ?? {}) };
  if (error.status === 401) headers['www-authenticate'] = BASIC_CHALLENGE;
  dropRepresentationHeaders(reply);
  void reply.code(error.status).headers(headers);
  return error;
}

/** Longest reason phrase `explainedReason` and `asciiReason` make, in characters. */
export const MAX_REASON_PHRASE = 200;

/** Typographic characters messages use, spelled in ASCII for a reason phrase. */
const ASCII_SPELLING: Readonly<Record<string, string>> = {
  '\u2018': "'",
  '\u2019': "'",
  '\u201c': '"',
  '\u201d': '"',
  '\u2013': '-',
  '\u2014': '-',
  '\u2026': '...',
  '\u2192': '->',
  '\u00d7': 'x',
  '\u00df': 'ss',
};

/**
 * `text` as an HTTP reason phrase: one line of printable ASCII, at most `max` characters (cut
 * with `...`), '' when nothing is left. Letters lose their accents (`é` → `e`, Unicode NFKD),
 * typographic quotes and dashes become ASCII ones, any other non-ASCII character becomes `?`,
 * every run of white space (CR, LF, tab…) one space. Node refuses a
 * reason phrase with CR/LF or characters past U+00FF, and clients print it as bytes: Maven's mvn
 * and Python's twine show it as the error.
 */
export function asciiReason(text: string, max = MAX_REASON_PHRASE): string {
  const ascii = text
    .replace(
      /[\u2018\u2019\u201c\u201d\u2013\u2014\u2026\u2192\u00d7\u00df]/g,
      (c) => ASCII_SPELLING[c] ?? '?',
    )
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/\s+/g, ' ')
    .replace(/[^\x20-\x7e]/gu, '?')
    .trim();
  return ascii.length <= max ? ascii : `${ascii.slice(0, max - 3).trimEnd()}...`;
}

/**
 * The reason phrase `<standard phrase> - <message>` (`Forbidden - this token is read-only: …`):
 * for clients that print the status line of an error and never its body (Maven's transports).
 * The message made ASCII by `asciiReason`, the whole at most MAX_REASON_PHRASE characters.
 */
export function explainedReason(status: number, message: string): string {
  const standard = STATUS_CODES[status] ?? 'Error';
  const text = asciiReason(message, Number.MAX_SAFE_INTEGER);
  if (text === '') return standard;
  return asciiReason(`${standard} - ${text}`);
}

/**
 * A Fastify error handler answering `text/plain` with the message on one line (what mvn, go and
 * curl print); see prepareErrorReply for status, headers and logging. `reasonPhrase`: the
 * message goes into the status line too (`explainedReason`), for clients that print only that.
 */
export function plainTextErrorHandler(
  label: string,
  toError?: (err: unknown) => RegistryError,
  options: { readonly reasonPhrase?: boolean } = {},
): (err: unknown, request: FastifyRequest, reply: FastifyReply) => FastifyReply {
  return (err, request, reply) => {
    const error = prepareErrorReply(err, request, reply, label, toError);
    if (options.reasonPhrase === true)
      reply.raw.statusMessage = explainedReason(error.status, error.message);
    return reply
      .type('text/plain; charset=utf-8')
      .send(`${error.message.replace(/[\r\n]+/g, ' ')}\n`);
  };
}
