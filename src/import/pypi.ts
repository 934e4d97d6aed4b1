/**
 * PyPI writer (Nexus keeps files under `packages/<name>/<version>/<file>`, Artifactory under
 * `<name>/<version>/<file>`; either way the file name says what it is): every wheel and sdist is
 * uploaded as twine uploads it — a `multipart/form-data` POST of the legacy upload API to the
 * target's simple URL, with `name`, `version`, `filetype`, `pyversion` from the file name, the
 * listed `sha256_digest` when the source gave one, and the file as `content`, streamed.
 *
 * That is what the upload needs: NORA reads a wheel's METADATA itself (Requires-Python, the
 * PEP 658 metadata file). An sdist's core metadata (summary, Requires-Python in PKG-INFO) is not
 * read: its release shows no summary until a wheel of it is imported. Index pages and
 * `.metadata` files of the source are ignored (NORA builds its own).
 */
import { randomBytes } from 'node:crypto';
import { parseDistFilename } from '../formats/pypi/filenames.ts';
import { concatBody, guarded, sendPublish } from './body.ts';
import type { ImportWriter, TargetRepository, WriteContext, WriteOutcome } from './types.ts';

export const pypiWriter: ImportWriter = {
  format: 'pypi',
  accepts(file) {
    const name = basename(file.path);
    if (parseDistFilename(name) !== undefined) return { action: 'take' };
    if (/\.(html?|metadata|json)$/i.test(name) || file.path.startsWith('.pypi/')) {
      return { action: 'ignore', reason: 'PyPI index or metadata file: NORA builds its own' };
    }
    return { action: 'refuse', reason: 'not a wheel or sdist file name' };
  },
  write: guarded(upload),
};

function basename(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

/** The target's simple URL path: `/simple` (the default repository) or `/repository/<n>/simple`. */
function simplePath(target: TargetRepository): string {
  return target.isDefault ? target.path : `${target.path}/simple`;
}

async function upload(ctx: WriteContext): Promise<WriteOutcome> {
  const filename = basename(ctx.file.path);
  const dist = parseDistFilename(filename);
  if (dist === undefined) return { status: 'failed', reason: 'not a wheel or sdist file name' };
  const simple = simplePath(ctx.target);
  const filePath = `${simple}/${encodeURIComponent(dist.project)}/${encodeURIComponent(filename)}`;
  if (await ctx.nora.exists(filePath)) {
    return { status: 'skipped', reason: `${filename} already in NORA` };
  }

  const fields: [string, string][] = [
    [':action', 'file_upload'],
    ['protocol_version', '1'],
    ['name', dist.project],
    ['version', dist.version],
    ['filetype', dist.kind === 'wheel' ? 'bdist_wheel' : 'sdist'],
    ['pyversion', dist.kind === 'wheel' ? (filename.split('-').at(-3) ?? '') : 'source'],
  ];
  if (ctx.file.sha256 !== undefined) fields.push(['sha256_digest', ctx.file.sha256]);
  const boundary = `nora-import-${randomBytes(12).toString('hex')}`;
  const head = fields
    .map(
      ([name, value]) =>
        `--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`,
    )
    .join('');
  const file = await ctx.open();
  const body = concatBody([
    `${head}--${boundary}\r\nContent-Disposition: form-data; name="content"; filename="${filename.replace(/["\\]/g, '_')}"\r\nContent-Type: application/octet-stream\r\n\r\n`,
    file,
    `\r\n--${boundary}--\r\n`,
  ]);
  const url = `${simple}/`;
  const outcome = await sendPublish(
    ctx,
    'POST',
    url,
    `multipart/form-data; boundary=${boundary}`,
    body,
    file.length,
  );
  // A concurrent import of the same file got there first (twine's --skip-existing wording).
  if (
    outcome.status === 'failed' &&
    outcome.reason.includes(`File already exists ('${filename}')`)
  ) {
    return { status: 'skipped', reason: `${filename} already in NORA` };
  }
  return outcome;
}
