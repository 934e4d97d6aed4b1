/** Where a command on the server's own host reaches it ([server] host and port). */

/**
 * The base URL by which a command on the same host (`nora healthcheck`, `nora go publish`) reaches
 * a server listening on `host`:`port`: a wildcard address (`0.0.0.0`, `::`) is reached on the
 * loopback of its family, an IPv6 literal is bracketed. Shape: `http://127.0.0.1:4000`, no `/`.
 */
export function localServerUrl(host: string, port: number): string {
  const unbracketed = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  const reached =
    unbracketed === '0.0.0.0' || unbracketed === ''
      ? '127.0.0.1'
      : unbracketed === '::'
        ? '::1'
        : unbracketed;
  return `http://${reached.includes(':') ? `[${reached}]` : reached}:${port}`;
}
