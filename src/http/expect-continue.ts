/**
 * `Expect: 100-continue` (RFC 9110 §10.1.1): the client sends the request body only after an
 * interim 100, so a request refused on its headers (401/403 before authorization, 413 by its
 * declared size, 409 on an immutable path, 400 on a bad name) costs no upload. Node answers 100
 * at once unless told otherwise; here the 100 goes out only when a handler starts reading the
 * body, and never once a final answer has begun (a 100 after it would break the connection).
 * curl sends the header for every upload above 1 KiB (`-T`), as do twine, Maven and others.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';

type Reader = (this: IncomingMessage, size: number) => void;

/** Makes `server` send `100 Continue` on the first read of a request's body, not on arrival. */
export function continueOnFirstRead(server: Server): void {
  server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
    const stream = req as IncomingMessage & { _read: Reader };
    // IncomingMessage's own reader (node:_http_incoming), called with the stream as `this`.
    const read = Object.getPrototypeOf(stream) as { _read: Reader };
    let asked = false;
    stream._read = function firstRead(this: IncomingMessage, size: number): void {
      if (!asked) {
        asked = true;
        if (!res.headersSent && !res.writableEnded) res.writeContinue();
      }
      read._read.call(this, size);
    };
    server.emit('request', req, res);
  });
}
