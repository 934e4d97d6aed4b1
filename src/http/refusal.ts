/**
 * The one way every route ends a request whose body it refused mid-stream (413 past a limit, 400
 * on bad data, 401 before reading, ...): answer, then close the connection promptly.
 *
 * Why not leave it to Node: a handler that stopped reading leaves the body unread on a keep-alive
 * connection, so a client that sends its whole body before reading the answer (Python's
 * http.client, curl -T) blocks on a full TCP window until the keep-alive timeout (~72 s). And
 * `Connection: close` alone makes Node destroy the socket as soon as the answer is flushed; a
 * client still sending then gets a reset, which on Linux can discard the answer before it reads
 * it. So: `Connection: close`, half-close after the answer, discard what still arrives, and drop
 * the connection when the body ends or after a short linger, whichever comes first.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/** How long a refused body is discarded after the answer before the connection is dropped (ms). */
export const REFUSAL_LINGER_MS = 2000;

/**
 * Does the request carry a body at all (RFC 9112 §6.3: Transfer-Encoding, or a Content-Length
 * above 0)? A GET has none, yet `request.complete` is still false while a handler answers it
 * synchronously: Node's parser reports the message complete only after the 'request' listeners
 * return. Without this check every synchronously answered GET was marked `Connection: close`,
 * and each keep-alive client had to reconnect for every request.
 */
function hasBody(request: IncomingMessage): boolean {
  if (request.headers['transfer-encoding'] !== undefined) return true;
  const length = request.headers['content-length'];
  return length !== undefined && Number(length) !== 0;
}

/**
 * Call before the answer's headers are sent (an onSend hook). Does nothing when the request body
 * was read to its end (or there was none) or the headers are already out; otherwise marks the
 * answer `Connection: close` and arranges the lingering close described above.
 */
export function closeAfterUnreadBody(
  request: IncomingMessage,
  response: ServerResponse,
  lingerMs: number = REFUSAL_LINGER_MS,
): void {
  if (request.complete || response.headersSent || !hasBody(request)) return;
  // A handler that gave up on the body may have destroyed the request stream, which detaches it
  // from its socket; the response still holds the socket until it finishes.
  const socket = (response.socket ?? request.socket) as Socket | null;
  if (socket === null || socket.destroyed) return;
  response.setHeader('connection', 'close');
  // Node calls destroySoon() on a `Connection: close` socket once the answer is flushed; end our
  // side only (the server socket is half-open capable) and keep reading, to discard.
  socket.destroySoon = () => {
    socket.end();
  };
  response.once('finish', () => {
    const drop = () => {
      clearTimeout(timer);
      socket.destroy();
    };
    const timer = setTimeout(drop, lingerMs);
    timer.unref();
    if (request.complete) {
      drop();
      return;
    }
    request.once('end', drop);
    // The client closing its side after reading the answer ends it too.
    socket.once('end', drop);
    if (request.destroyed) {
      // A destroyed request refuses the parser's pushes, which stops reading the socket. Node's
      // own discard switch (what it uses for bodies nobody read) makes the parser drop them
      // instead; if a Node version lacks it, the timer above still drops the connection.
      (request as IncomingMessage & { _dump?: () => void })._dump?.();
    } else {
      request.once('close', drop);
      request.resume();
    }
    socket.resume();
  });
  // An answer that never finishes (the client went away) must not leave the socket behind.
  response.once('close', () => {
    if (!response.writableFinished) socket.destroy();
  });
}
