/**
 * node:http taken with `require`, never with an ES `import`: Node builds an ES module facade for a
 * builtin imported from ES code by reading every export, and node:http's `WebSocket`,
 * `CloseEvent` and `MessageEvent` are getters that load Node's own bundled undici (a 0.75 MB
 * source, with node:http2 and node:tls behind it). Imported, node:http cost every `nora serve`
 * ~80-100 ms of CPU and ~13 MB of idle RSS for classes NORA never uses (docs/performance.md,
 * "Start-up and idle RSS", 2026-12-06). Types stay `import type` from 'node:http' (erased).
 * test/unit/core/node-http-import.test.ts keeps value imports of node:http out of src/.
 */
import type * as NodeHttp from 'node:http';
import { createRequire } from 'node:module';

const http = createRequire(import.meta.url)('node:http') as typeof NodeHttp;

export const { createServer, IncomingMessage, STATUS_CODES } = http;
/** The instance type, under the class's name (a destructured class is a value only). */
export type IncomingMessage = NodeHttp.IncomingMessage;
