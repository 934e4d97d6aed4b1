/**
 * Maven writer: every file of the repository's Maven 2 layout (`<group>/<artifact>/<version>/…`)
 * is PUT at the same path under the target (`/maven2/…` or `/repository/<name>/…`), as `mvn
 * deploy` does, so NORA's own checks apply (version policy, immutable releases, upload limit).
 *
 * Ignored, because NORA computes them from what is stored: checksum files (`.md5`, `.sha1`,
 * `.sha256`, `.sha512`) and every `maven-metadata.xml` (with its checksums). Index folders of the
 * source (`.index/`, `.meta/`, any dot-segment) are the source's own bookkeeping: ignored too.
 */
import { encodePath, putIfMissing } from './put.ts';
import type { Acceptance, ImportWriter } from './types.ts';

const CHECKSUM = /\.(?:md5|sha1|sha256|sha512)$/;

export const mavenWriter: ImportWriter = {
  format: 'maven',
  accepts(file): Acceptance {
    const segments = file.path.split('/');
    const name = segments.at(-1) ?? '';
    if (segments.some((s) => s.startsWith('.'))) {
      return { action: 'ignore', reason: "the source's index or bookkeeping (a dot folder)" };
    }
    if (name.startsWith('maven-metadata.xml')) {
      return { action: 'ignore', reason: 'maven-metadata.xml: NORA generates it' };
    }
    if (CHECKSUM.test(name)) return { action: 'ignore', reason: 'checksum file: NORA computes it' };
    if (segments.length < 4) {
      return { action: 'refuse', reason: 'not in the Maven layout (group/artifact/version/file)' };
    }
    return { action: 'take' };
  },
  write: (ctx) => putIfMissing(ctx, `${ctx.target.path}/${encodePath(ctx.file.path)}`),
};
