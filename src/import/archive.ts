/**
 * Reading one small member out of a gzipped tarball as it streams from the source: the npm
 * writer's `package/package.json`, the Cargo writer's `<name>-<vers>/Cargo.toml`. The archive is
 * read only up to that member (then the download is dropped), and the member itself is bounded:
 * nothing else of the archive is kept in memory.
 */
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import tar from 'tar-stream';

/**
 * The bytes of the first regular file whose archive path `wanted` accepts, or undefined when the
 * archive ends without one. Rejects (Error, one line) when the stream is not a gzipped tarball,
 * breaks off, or the member exceeds `maxBytes`. `source` is always consumed or destroyed.
 */
export async function readTarMember(
  source: Readable,
  wanted: (path: string) => boolean,
  maxBytes: number,
): Promise<Buffer | undefined> {
  const gunzip = createGunzip();
  const extract = tar.extract();
  const stop = () => {
    source.destroy();
    gunzip.destroy();
    extract.destroy();
  };
  source.on('error', (err: Error) => {
    extract.destroy(err);
  });
  gunzip.on('error', (err: Error) => {
    extract.destroy(new Error(`not a gzipped tarball (${err.message})`));
  });
  source.pipe(gunzip).pipe(extract);
  try {
    for await (const entry of extract) {
      const { name, type, size } = entry.header;
      if (type !== 'file' || !wanted(name)) {
        entry.resume();
        continue;
      }
      if (size > maxBytes) {
        throw new Error(`${name} in the archive is larger than ${maxBytes} bytes`);
      }
      const chunks: Buffer[] = [];
      let length = 0;
      for await (const chunk of entry as AsyncIterable<Buffer>) {
        length += chunk.length;
        if (length > maxBytes)
          throw new Error(`${name} in the archive is larger than ${maxBytes} bytes`);
        chunks.push(chunk);
      }
      return Buffer.concat(chunks);
    }
    return undefined;
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    throw new Error(/gzip|tarball/.test(message) ? message : `not a valid tarball (${message})`, {
      cause: err,
    });
  } finally {
    stop();
  }
}

/** `dir/name` one folder deep, as npm and Cargo archives put their manifest: `package/package.json`. */
export function rootMember(filename: string): (path: string) => boolean {
  return (path) => {
    const parts = path.replace(/^\.\//, '').split('/');
    return parts.length === 2 && parts[0] !== '' && parts[1] === filename;
  };
}
