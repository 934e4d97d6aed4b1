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
 * `.metadata` files of the source are ignored (NORA builds its own). A file NORA already holds is
 * skipped when the sha256 its PEP 691 page lists is the source's, else reported as a failure.
 */
import { randomBytes } from 'node:crypto';
import { parseDistFilename } from '../formats/pypi/filenames.ts';
import { concatBody, guarded, sendPublish } from './body.ts';
import { alreadyInNora } from './existing.ts';
import { answerReason } from './put.ts';
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
    return alreadyInNora(
      ctx,
      filename,
      'sha256',
      await noraSha256(ctx, simple, dist.project, filename),
    );
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
  // A concurrent import of the same file got there first (twine's --skip-existing wording):
  // the same bytes are a skip, others a failure.
  if (
    outcome.status === 'failed' &&
    outcome.reason.includes(`File already exists ('${filename}')`)
  ) {
    return alreadyInNora(
      ctx,
      filename,
      'sha256',
      await noraSha256(ctx, simple, dist.project, filename),
    );
  }
  return outcome;
}

/**
 * The sha256 NORA lists for `filename` on `project`'s PEP 691 JSON page (`files[].hashes.sha256`),
 * or undefined when the page does not list the file. Rejects naming NORA's answer on a non-2xx.
 */
async function noraSha256(
  ctx: WriteContext,
  simple: string,
  project: string,
  filename: string,
): Promise<string | undefined> {
  const page = `${simple}/${encodeURIComponent(project)}/`;
  const answer = await ctx.nora.request('GET', page, {
    headers: { accept: 'application/vnd.pypi.simple.v1+json' },
  });
  if (!answer.ok) throw new Error(await answerReason(answer, 'GET', page));
  const files = (JSON.parse(await answer.text()) as { files?: unknown }).files;
  if (!Array.isArray(files)) return undefined;
  for (const file of files as { filename?: unknown; hashes?: { sha256?: unknown } }[]) {
    if (file.filename === filename && typeof file.hashes?.sha256 === 'string') {
      return file.hashes.sha256;
    }
  }
  return undefined;
}
