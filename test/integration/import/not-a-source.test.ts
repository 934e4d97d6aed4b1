/**
 * `nora import assess` pointed at a URL that is no Nexus or Artifactory REST API (trial 33: a
 * NORA's URL exited 1 with only `404 Not Found from GET …/service/rest/v1/repositories`): the
 * error says the URL does not look like that source, what `--url` must be, and that a NORA is
 * no import source (backup/restore moves between NORAs).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { nora } from '../../helpers/cli.ts';
import { startTestServer } from '../../helpers/server.ts';

test('import assess --url <a NORA> says it is no Nexus/Artifactory API and what URL is expected', async () => {
  await using server = await startTestServer();
  for (const [source, listing, expected] of [
    ['nexus', '/service/rest/v1/repositories', /--url must be Nexus' root/],
    ['artifactory', '/api/repositories', /--url must be Artifactory's root/],
  ] as const) {
    const result = await nora([
      'import',
      'assess',
      '--source',
      source,
      '--url',
      server.url,
      '--allow-private-cidrs',
    ]);
    assert.equal(result.code, 1, result.stderr);
    assert.ok(result.stderr.includes(`GET ${server.url}${listing}`), result.stderr);
    assert.ok(
      result.stderr.includes(
        `${server.url} does not look like the ${source === 'nexus' ? 'Nexus Repository 3' : 'Artifactory'} REST API`,
      ),
      result.stderr,
    );
    assert.match(result.stderr, expected);
    assert.match(
      result.stderr,
      /A NORA is no import source: move between NORAs with nora backup and nora restore/,
    );
  }
});
