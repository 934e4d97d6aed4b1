/**
 * Node's `clientError`: the HTTP parser gave up on a connection (a body shorter than its
 * Content-Length when the client closed, malformed chunking, oversized headers, a request
 * timeout). Fastify's default answers a bare `{"message":"Client Error"}` and logs nothing above
 * trace; this says what went wrong and logs one line, so a truncated upload is visible to the
 * client and to the operator. Nothing was stored for such a request: every upload path commits
 * only a whole, verified body.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { STATUS_CODES } from '../core/node-http.ts';
import type { Socket } from 'node:net';

/** Each connection's latest response (see trackResponse); dropped with the socket. */
const latest = new WeakMap<Socket, ServerResponse>();

/**
 * Notes `res` as the answer of its connection's latest request; called for every request, so
 * answerClientError can tell a body cut short after NORA answered it (a refusal before the body
 * was read: node detaches a finished response from its socket) from one nobody answered.
 */
export function trackResponse(req: IncomingMessage, res: ServerResponse): void {
  latest.set(req.socket, res);
}

/** What the answer says for each parser error code (llhttp's `HPE_*`, node's own). */
const REASONS: Readonly<Record<string, { status: number; message: string }>> = {
  HPE_INVALID_EOF_STATE: {
    status: 400,
    message:
      'the connection ended before the request was complete (fewer body bytes than its Content-Length, or an unfinished chunked body); nothing was stored',
  },
  HPE_INVALID_CHUNK_SIZE: { status: 400, message: 'malformed chunked request body' },
  HPE_INVALID_CONTENT_LENGTH: { status: 400, message: 'invalid Content-Length header' },
  HPE_UNEXPECTED_CONTENT_LENGTH: {
    status: 400,
    message: 'Content-Length and Transfer-Encoding: chunked together',
  },
  HPE_HEADER_OVERFLOW: { status: 431, message: 'request headers are too large' },
  ERR_HTTP_REQUEST_TIMEOUT: { status: 408, message: 'the request took too long to arrive' },
};

/**
 * A request line alone past this many bytes is answered 414, not 431: the header overflow is the
 * URL (nginx's `large_client_header_buffers` default draws the line at 8 KiB too).
 */
const MAX_REQUEST_LINE = 8192;

/**
 * 414 (RFC 9110 §15.5.15) when the parser's header overflow is the request line: the packet it
 * gave up on starts with `METHOD /…` and holds no line end within MAX_REQUEST_LINE bytes. Any
 * other overflow (a big header, or a packet that does not start the request) stays 431.
 */
function uriTooLong(
  err: Error & { rawPacket?: unknown },
): { status: number; message: string } | undefined {
  const packet = err.rawPacket;
  if (!Buffer.isBuffer(packet) || !/^[A-Z]+ \S/.test(packet.subarray(0, 16).toString('latin1'))) {
    return undefined;
  }
  const end = packet.indexOf(10);
  if (end !== -1 && end <= MAX_REQUEST_LINE) return undefined;
  return { status: 414, message: `the request URL is too long (over ${MAX_REQUEST_LINE} bytes)` };
}

export interface ClientErrorLog {
  info(fields: Record<string, unknown>, message: string): void;
  debug(fields: Record<string, unknown>, message: string): void;
}

/**
 * Answers a connection the parser gave up on (plain text, `Connection: close`) and logs one line
 * (`code`, `status`, client address). A reset or already destroyed socket gets nothing.
 */
export function answerClientError(
  err: Error & { code?: string },
  socket: Socket,
  log: ClientErrorLog,
): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  // The request was answered already (a refusal before its body was read, the client then
  // closing): nothing more may be written, and nothing was refused by the parser (node's own
  // rule: destroy when the attached response has sent its headers). A response already sent
  // whole is detached from the socket: its request still being incomplete says the same (trial
  // 27: a 405 on a raw proxy logged the parser line when curl then closed mid-body).
  const attached = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  const answered = latest.get(socket);
  if (
    attached?.headersSent === true ||
    (answered?.headersSent === true && !answered.req.complete)
  ) {
    log.debug(
      { code: err.code, client: socket.remoteAddress },
      'connection closed before the body of a request already answered was read',
    );
    socket.destroy(err);
    return;
  }
  const reason = (err.code === 'HPE_HEADER_OVERFLOW' && uriTooLong(err)) ||
    REASONS[err.code ?? ''] || {
      status: 400,
      message: `malformed HTTP request${err.code === undefined ? '' : ` (${err.code})`}`,
    };
  log.info(
    { code: err.code, status: reason.status, client: socket.remoteAddress },
    'request refused by the HTTP parser',
  );
  if (socket.writable) {
    const body = `${reason.message}\n`;
    socket.write(
      `HTTP/1.1 ${reason.status} ${STATUS_CODES[reason.status] ?? ''}\r\n` +
        `Content-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
        `Connection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(err);
}
