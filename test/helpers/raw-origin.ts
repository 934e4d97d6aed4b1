/**
 * A NORA whose raw proxy `dl` (metadata_ttl 0, circuit breaker off) fronts a fixture origin on
 * 127.0.0.1 at `<origin>/dist`, with the group `dl-all` (raw-hosted, then dl): what the raw proxy
 * tests of an origin's answers (withdrawn files, folder redirects) start from.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { startTestServer, type TestServer } from './server.ts';

export interface RawOriginRig {
  readonly origin: http.Server;
  readonly server: TestServer;
  /** Stops NORA, then the origin (its kept-alive connections too). */
  close(): Promise<void>;
}

/** Starts the origin answering with `handler`, then NORA in front of it. */
export async function startRawOriginRig(handler: http.RequestListener): Promise<RawOriginRig> {
  const origin = http.createServer(handler);
  await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
  const upstream = `http://127.0.0.1:${(origin.address() as AddressInfo).port}/dist`;
  const server = await startTestServer({
    config: {
      circuit_breaker: { enabled: false },
      repositories: [
        {
          name: 'dl',
          format: 'raw',
          kind: 'proxy',
          metadata_ttl: 0,
          upstreams: [{ url: upstream }],
        },
        {
          name: 'dl-all',
          format: 'raw',
          kind: 'group',
          members: ['raw-hosted', 'dl'],
          write_member: 'raw-hosted',
        },
      ],
    },
  });
  return {
    origin,
    server,
    close: async () => {
      await server.close();
      origin.closeAllConnections();
      await new Promise((resolve) => origin.close(resolve));
    },
  };
}
