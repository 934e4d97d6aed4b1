/**
 * Raw writer (Artifactory `generic`, Nexus `raw`): every file is PUT at the same path under the
 * target (`/raw/…` or `/repository/<name>/…`), NORA's hosted raw upload (a size limit, immutable
 * once stored).
 */
import { encodePath, putIfMissing } from './put.ts';
import type { ImportWriter } from './types.ts';

export const rawWriter: ImportWriter = {
  format: 'raw',
  accepts: () => ({ action: 'take' }),
  write: (ctx) => putIfMissing(ctx, `${ctx.target.path}/${encodePath(ctx.file.path)}`),
};
