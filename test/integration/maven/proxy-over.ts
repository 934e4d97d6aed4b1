/**
 * The set-up of the Maven proxy tests whose upstream is written by hand in the test (a node:http
 * or raw node:net server whose answers the test steers: garbage, truncated, cut archives): the
 * upstream on 127.0.0.1, a NORA whose one Maven proxy asks it, both stopped after the tests.
 */
import type net from 'node:net';
import { after, before } from 'node:test';
import { startTestServer, type TestServer } from '../../helpers/server.ts';

export interface MavenProxyOver {
  /** The NORA asking the upstream (`maven-proxy`, a member of the group `/maven2/`); set in before. */
  readonly server: TestServer;
  /**
   * GET `path` (e.g. `/maven2/org/…/a-1.0.jar`) from NORA: its status, whole body and the status
   * line's reason phrase (what mvn prints).
   */
  readonly get: (path: string) => Promise<{ status: number; body: Buffer; statusMessage: string }>;
}

/**
 * Registers the enclosing describe's before and after hooks. Before: `upstream` (not listening
 * yet) listens on 127.0.0.1 and a free port, and a test server starts with
 * `maven.proxies = [<upstream URL>]`. After: NORA closes, then every connection the upstream still
 * holds is destroyed (NORA's keep-alive ones; a raw server's half-answered ones) and it stops.
 * Call it in the describe's body, before its tests; use `server` and `get` inside tests only.
 */
export function mavenProxyOver(upstream: net.Server): MavenProxyOver {
  let server: TestServer | undefined;
  const sockets = new Set<net.Socket>();
  upstream.on('connection', (socket: net.Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  before(async () => {
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(upstream.address() as net.AddressInfo).port}`;
    server = await startTestServer({ config: { maven: { proxies: [url] } } });
  });

  after(async () => {
    await server?.close();
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => upstream.close(resolve));
  });

  const started = (): TestServer => {
    if (server === undefined) throw new Error('mavenProxyOver: used outside a test (before ran?)');
    return server;
  };
  return {
    get server() {
      return started();
    },
    get: async (path) => {
      const res = await fetch(`${started().url}${path}`);
      return {
        status: res.status,
        body: Buffer.from(await res.arrayBuffer()),
        statusMessage: res.statusText,
      };
    },
  };
}
