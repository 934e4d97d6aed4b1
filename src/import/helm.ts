/**
 * Helm writer (Artifactory and Nexus Helm repositories keep chart archives `<name>-<version>.tgz`,
 * provenance files `.tgz.prov`, and an `index.yaml` they generate): a chart whose file name is
 * `<name>-<version>.tgz` is PUT at `<target>/<file>` (HEAD first: one NORA has is skipped),
 * its provenance likewise (after its chart: NORA refuses a provenance file without one, and a
 * re-run imports it then). A chart under another file name is POSTed to `<target>/api/charts`,
 * where NORA reads its name and version from Chart.yaml. The source's index.yaml is ignored:
 * NORA rebuilds its own from the charts.
 */
import { parseChartFilename } from '../formats/helm/chart.ts';
import { encodePath, putIfMissing } from './put.ts';
import { guarded, sendPublish } from './body.ts';
import type { ImportWriter } from './types.ts';

export const helmWriter: ImportWriter = {
  format: 'helm',
  accepts(file) {
    const name = file.path.slice(file.path.lastIndexOf('/') + 1);
    if (name.endsWith('.tgz')) return { action: 'take' };
    if (name.endsWith('.tgz.prov') && parseChartFilename(name) !== undefined) {
      return { action: 'take' };
    }
    if (name === 'index.yaml') return { action: 'ignore', reason: 'Helm index: NORA rebuilds it' };
    return { action: 'refuse', reason: 'not a chart archive (.tgz) or provenance file' };
  },
  async write(ctx) {
    const name = ctx.file.path.slice(ctx.file.path.lastIndexOf('/') + 1);
    if (parseChartFilename(name) !== undefined) {
      return putIfMissing(ctx, `${ctx.target.path}/${encodePath(name)}`, {
        'content-type': name.endsWith('.prov') ? 'application/pgp-signature' : 'application/gzip',
      });
    }
    return postChart(ctx);
  },
};

/** A chart under a file name that does not name it: NORA's upload API reads Chart.yaml. */
const postChart = guarded(async (ctx) => {
  const body = await ctx.open();
  return sendPublish(
    ctx,
    'POST',
    `${ctx.target.path}/api/charts`,
    'application/gzip',
    body,
    body.length,
  );
});
