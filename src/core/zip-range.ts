/**
 * A yauzl random-access reader over ranges of stored bytes: zip archives (wheels, jars) are read
 * by their central directory and the entries wanted, never loaded whole. Shared by PyPI's core
 * metadata extraction and Maven's plugin descriptor.
 */
import { PassThrough, Readable } from 'node:stream';
import yauzl from 'yauzl';

/** Opens bytes `start`..`end` of the archive, `end` exclusive (yauzl's convention). */
export type RangeOpener = (start: number, end: number) => Promise<Readable>;

/** yauzl's RandomAccessReader over `open`; an empty range reads nothing. */
export class RangeReader extends yauzl.RandomAccessReader {
  readonly #open: RangeOpener;

  constructor(open: RangeOpener) {
    super();
    this.#open = open;
  }

  override _readStreamForRange(start: number, end: number): Readable {
    if (end <= start) return Readable.from([]);
    const out = new PassThrough();
    this.#open(start, end).then(
      (body) => {
        body.on('error', (err) => out.destroy(err));
        body.pipe(out);
      },
      (err: unknown) => out.destroy(err instanceof Error ? err : new Error(String(err))),
    );
    return out;
  }
}
