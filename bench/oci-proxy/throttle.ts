/**
 * A TCP relay on 127.0.0.1 that passes each connection through to a local port while limiting
 * what comes back to `bytesPerSecond` per connection: a stand-in for a remote registry whose CDN
 * serves each connection at a bounded rate. Requests go through untouched.
 */
import net from 'node:net';

export interface ThrottledLink {
  readonly host: string;
  readonly url: string;
  close(): Promise<void>;
}

export async function throttledLink(port: number, bytesPerSecond: number): Promise<ThrottledLink> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(port, '127.0.0.1');
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream);
    // Each chunk is due when the previous ones would have finished at the allowed rate.
    let due = Date.now();
    upstream.on('data', (chunk: Buffer) => {
      client.write(chunk);
      due = Math.max(due, Date.now()) + (chunk.length / bytesPerSecond) * 1000;
      const wait = due - Date.now();
      if (wait > 1) {
        upstream.pause();
        setTimeout(() => upstream.resume(), wait);
      }
    });
    upstream.on('end', () => client.end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address() as net.AddressInfo;
  const host = `127.0.0.1:${address.port}`;
  return {
    host,
    url: `http://${host}`,
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => {
          resolve();
        });
      }),
  };
}
