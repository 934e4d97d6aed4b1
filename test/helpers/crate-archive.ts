/**
 * A `.crate` archive as `cargo package` writes it (every file under `<name>-<vers>/`, tarred and
 * gzipped), made in memory for `nora import` tests.
 */
import { gzipSync } from 'node:zlib';
import tar from 'tar-stream';

/** A .crate: `files` (path → text) under `<name>-<vers>/`. */
export async function crateArchive(
  name: string,
  vers: string,
  files: Record<string, string>,
): Promise<Buffer> {
  const pack = tar.pack();
  for (const [file, text] of Object.entries(files)) {
    pack.entry({ name: `${name}-${vers}/${file}`, mode: 0o644 }, text);
  }
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of pack as AsyncIterable<Buffer>) chunks.push(chunk);
  return gzipSync(Buffer.concat(chunks));
}
