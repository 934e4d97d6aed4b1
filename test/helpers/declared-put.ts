/**
 * A PUT that declares a large Content-Length and sends only its first bytes, then waits: what a
 * client uploading a file too large for a limit looks like before it has sent much. A server that
 * refuses on the declared length answers at once; one that reads the body first never answers
 * (the helper gives up after `waitMs` and says so).
 */
import http from 'node:http';

export interface DeclaredPutAnswer {
  readonly status: number;
  readonly contentType: string;
  readonly body: string;
  /** Milliseconds from the request's start to the answer's end. */
  readonly ms: number;
}

export async function putDeclaredOnly(
  url: string,
  declared: number,
  options: { headers?: Record<string, string>; waitMs?: number; method?: string } = {},
): Promise<DeclaredPutAnswer | 'no answer'> {
  const started = performance.now();
  const target = new URL(url);
  return new Promise((resolve, reject) => {
    const req = http.request(target, {
      method: options.method ?? 'PUT',
      headers: { ...options.headers, 'content-length': String(declared) },
    });
    // 10 s by default: an early refusal takes milliseconds, but 3 s was little on a loaded CI
    // machine; a server reading the body first never answers (body_timeout is 60 s in tests).
    const timer = setTimeout(() => {
      req.destroy();
      resolve('no answer');
    }, options.waitMs ?? 10_000);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        clearTimeout(timer);
        req.destroy();
        resolve({
          status: res.statusCode ?? 0,
          contentType: res.headers['content-type'] ?? '',
          body: Buffer.concat(chunks).toString('utf8'),
          ms: performance.now() - started,
        });
      });
    });
    req.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    req.write(Buffer.alloc(Math.min(declared, 1024)));
  });
}
