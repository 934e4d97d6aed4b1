/**
 * Model-based test of `nora gc` against a running server: seeded random sequences (≤ 25 steps)
 * of raw PUT / CAS overwrite / refused overwrite / DELETE, Maven deploys and redeploys, npm
 * publishes (and refused re-publishes of the same bytes), OCI image pushes and tag re-points,
 * OCI uploads refused for a wrong digest, back-dating every blob by 30 days, and gc passes
 * (in the server or as `nora gc` in another process; grace 0 or the default 7 days, or a clock
 * 8 days ahead; dry run or apply), some with uploads of the same bytes in flight, some landing
 * at an exact point of such an upload (its dedup check; the pass's removal of the blob's row).
 *
 * After every step: every artifact the model holds downloads byte-identical with matching digest
 * headers; every raw file the model deleted answers 404; storage holds nothing outside blobs/,
 * the spool and the database; a dry run removed nothing. Identical bytes are uploaded under many
 * names (small content pool: dedup everywhere). Seeds: GC_MODEL_SEEDS="1,2,3" (default: three
 * fixed seeds); a failure names its seed and the steps so far.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import { SqlBlobIndex } from '../../../src/db/blob-index.ts';
import { FORMATS } from '../../../src/formats/index.ts';
import { collectGarbage } from '../../../src/gc/collector.ts';
import { parseDigest } from '../../../src/core/digest.ts';
import { BlobStore } from '../../../src/storage/blob-store.ts';
import { blobKey } from '../../../src/storage/keys.ts';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { NpmHttp } from '../npm/client.ts';
import { tarballOf } from '../npm/fixtures.ts';
import { Client as OciClient } from '../oci/helpers.ts';
import { onNextStat } from './stat-hook.ts';

const DAY_MS = 86_400_000;
const WEEK_S = 604_800;
const STEPS = 25;
const SEEDS = (process.env['GC_MODEL_SEEDS'] ?? '1202,77,4242')
  .split(',')
  .map((s) => Number(s.trim()));

const hex = (alg: 'sha256' | 'sha1', data: Buffer | string) =>
  createHash(alg).update(data).digest('hex');

/** mulberry32: a small deterministic PRNG. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A few contents only: the same bytes end up under many names and formats. */
const CONTENTS = ['alpha bytes', 'beta bytes', 'gamma bytes', 'delta', 'the shared layer'];
const RAW_PATHS = ['/raw/m/a.txt', '/raw/m/b.txt', '/raw/m/d/c.txt', '/raw/n/a.txt'];
const MAVEN_PATHS = [
  '/maven2/com/example/m/1.0/m-1.0.jar',
  '/maven2/com/example/m/1.0-SNAPSHOT/m-1.0-20261202.000000-1.jar',
  '/maven2/com/example/n/2.0/n-2.0.jar',
];
const NPM_NAMES = ['gc-model-a', 'gc-model-b'];
const OCI_REPOS = ['model/one', 'model/two'];

type Expected = { bytes: Buffer; kind: 'raw' | 'maven' | 'npm' | 'oci-manifest' | 'oci-blob' };

describe('gc model: random publish / delete / gc sequences keep every artifact', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({
      config: { cargo: { proxy: '' } },
      env: { NORA_GO_PROXY: 'none' },
    });
  });
  after(async () => {
    await server.close();
  });

  for (const seed of SEEDS) {
    test(`seed ${seed}`, async () => {
      const log: string[] = [];
      try {
        await runSequence(seed, log);
      } catch (err) {
        const why = err instanceof Error ? err.message : String(err);
        throw new Error(
          `gc model failed, seed ${seed} (rerun: GC_MODEL_SEEDS=${seed}):\n  ${log.join('\n  ')}\n${why}`,
          { cause: err },
        );
      }
    });
  }

  async function runSequence(seed: number, log: string[]): Promise<void> {
    const random = rng(seed);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
    const url = (p: string) => `${server.url}${p}`;
    const { db } = server.app.context;
    const oci = new OciClient(server.url);
    const npm = new NpmHttp(`${server.url}/npm`);
    // Each seed its own names (one server for all seeds).
    const tag = `s${seed}`;
    const rawPath = (p: string) => p.replace('/raw/', `/raw/${tag}/`);
    const mavenPath = (p: string) => p.replace('com/example', `com/example/${tag}`);
    const npmName = (n: string) => `${n}-${tag}`;

    const model = new Map<string, Expected>();
    const deleted = new Set<string>();
    const npmVersions = new Map<string, number>();

    // ---- operations: each returns a check of the answer that also updates the model ----
    const rawPut = async (p: string, content: string) => {
      const existed = model.has(p);
      const res = await fetch(url(p), { method: 'PUT', body: content });
      await res.arrayBuffer();
      if (existed) assert.equal(res.status, 409, `PUT ${p} over an existing file`);
      else {
        assert.equal(res.status, 201, `PUT ${p}`);
        model.set(p, { bytes: Buffer.from(content), kind: 'raw' });
        deleted.delete(p);
      }
    };
    const rawOverwrite = async (p: string, content: string, stale: boolean) => {
      const current = model.get(p);
      const etag = current && !stale ? `"${hex('sha256', current.bytes)}"` : `"${'0'.repeat(64)}"`;
      const res = await fetch(url(p), {
        method: 'PUT',
        body: content,
        headers: { 'if-match': etag },
      });
      await res.arrayBuffer();
      if (current === undefined || stale) {
        assert.equal(res.status, 412, `PUT If-Match ${p} (${stale ? 'stale' : 'absent'})`);
      } else {
        assert.ok(
          res.status === 200 || res.status === 201 || res.status === 204,
          `CAS ${p}: ${res.status}`,
        );
        model.set(p, { bytes: Buffer.from(content), kind: 'raw' });
      }
    };
    const rawDelete = async (p: string) => {
      const existed = model.has(p);
      const res = await fetch(url(p), { method: 'DELETE' });
      await res.arrayBuffer();
      if (existed) {
        assert.ok(res.status === 200 || res.status === 204, `DELETE ${p}: ${res.status}`);
        model.delete(p);
        deleted.add(p);
      } else assert.equal(res.status, 404, `DELETE ${p} (absent)`);
    };
    const mavenPut = async (p: string, content: string) => {
      const res = await fetch(url(p), { method: 'PUT', body: content });
      const text = await res.text();
      assert.ok(res.status < 500, `PUT ${p}: ${res.status} ${text}`);
      if (res.status < 300) model.set(p, { bytes: Buffer.from(content), kind: 'maven' });
    };
    const npmPublish = async (name: string, again: boolean) => {
      const known = npmVersions.get(name) ?? 0;
      const version = again && known > 0 ? known : known + 1;
      const spec = { name, version: `1.0.${version}` };
      const reply = await npm.publish(spec);
      const p = `/npm/${name}/-/${name}-1.0.${version}.tgz`;
      if (version === known) {
        assert.ok(reply.status >= 400 && reply.status < 500, `re-publish ${p}: ${reply.status}`);
      } else {
        assert.equal(reply.status, 201, `publish ${p}: ${reply.text}`);
        npmVersions.set(name, version);
        model.set(p, { bytes: tarballOf(spec), kind: 'npm' });
      }
    };
    const ociPush = async (repo: string, ref: string, layer: string) => {
      const image = await oci.pushImage(repo, ref, { layer, extra: { annotations: { ref } } });
      model.set(`/v2/${repo}/manifests/${ref}`, {
        bytes: Buffer.from(image.body),
        kind: 'oci-manifest',
      });
      model.set(`/v2/${repo}/manifests/${image.digest}`, {
        bytes: Buffer.from(image.body),
        kind: 'oci-manifest',
      });
      model.set(`/v2/${repo}/blobs/${image.layer}`, {
        bytes: Buffer.from(layer),
        kind: 'oci-blob',
      });
    };
    const ociWrongDigest = async (repo: string, content: string) => {
      const wrong = `sha256:${hex('sha256', `${content} (not these bytes)`)}`;
      const res = await fetch(url(`/v2/${repo}/blobs/uploads/?digest=${wrong}`), {
        method: 'POST',
        body: content,
      });
      await res.arrayBuffer();
      assert.equal(res.status, 400, `OCI upload with a wrong digest: ${res.status}`);
    };
    const ageAll = async () => {
      const at = Date.now() - 30 * DAY_MS;
      await sql`UPDATE blobs SET created_at = ${at}`.execute(db);
      for (const file of await listFiles(path.join(server.config.storage.path, 'blobs'))) {
        await fs.utimes(file, at / 1000, at / 1000);
      }
    };
    type GcKind = { where: 'server' | 'other'; grace: number; apply: boolean; ahead: boolean };
    const gc = (kind: GcKind) =>
      collectGarbage({
        db,
        blobs:
          kind.where === 'server'
            ? server.app.context.blobs
            : new BlobStore(server.app.context.blobs.driver, new SqlBlobIndex(db)),
        formats: FORMATS,
        graceSeconds: kind.grace,
        apply: kind.apply,
        ...(kind.ahead ? { now: Date.now() + 8 * DAY_MS } : {}),
        ...(kind.where === 'server'
          ? { beforeMark: () => server.app.context.proxy.state.flush() }
          : {}),
      });
    const describeGc = (k: GcKind) =>
      `gc ${k.where} grace=${k.grace}${k.ahead ? ' now+8d' : ''} ${k.apply ? 'apply' : 'dry-run'}`;
    const randomGc = (): GcKind => {
      const apply = random() < 0.7;
      const ahead = random() < 0.2;
      return {
        where: pick(['server', 'other'] as const),
        grace: ahead || random() < 0.5 ? WEEK_S : 0,
        apply,
        ahead,
      };
    };

    /** An upload picked at random; `content` shared among concurrent ones (dedup). */
    const randomUpload = (content: string, used: Set<string>): [string, () => Promise<void>] => {
      for (;;) {
        const r = random();
        if (r < 0.35) {
          const p = rawPath(pick(RAW_PATHS));
          if (used.has(p)) continue;
          used.add(p);
          return [`raw PUT ${p} '${content}'`, () => rawPut(p, content)];
        }
        if (r < 0.5) {
          const p = rawPath(pick(RAW_PATHS));
          if (used.has(p)) continue;
          used.add(p);
          return [`raw stale If-Match ${p} '${content}'`, () => rawOverwrite(p, content, true)];
        }
        if (r < 0.65) {
          const p = rawPath(pick(RAW_PATHS));
          if (used.has(p)) continue;
          used.add(p);
          return [`raw CAS ${p} '${content}'`, () => rawOverwrite(p, content, false)];
        }
        if (r < 0.8) {
          const p = mavenPath(pick(MAVEN_PATHS));
          if (used.has(p)) continue;
          used.add(p);
          return [`maven PUT ${p} '${content}'`, () => mavenPut(p, content)];
        }
        if (r < 0.9) {
          const repo = `${pick(OCI_REPOS)}-${tag}`;
          if (used.has(repo)) continue;
          used.add(repo);
          const ref = pick(['latest', 'v1']);
          return [`oci push ${repo}:${ref} layer '${content}'`, () => ociPush(repo, ref, content)];
        }
        const repo = `${pick(OCI_REPOS)}-${tag}`;
        return [`oci wrong digest ${repo} '${content}'`, () => ociWrongDigest(repo, content)];
      }
    };

    for (let step = 0; step < STEPS; step++) {
      const r = random();
      let dryRun = false;
      let before: string[] = [];
      if (r < 0.12) {
        const p = rawPath(pick(RAW_PATHS));
        const c = pick(CONTENTS);
        log.push(`${step}: raw PUT ${p} '${c}'`);
        await rawPut(p, c);
      } else if (r < 0.22) {
        const p = rawPath(pick(RAW_PATHS));
        const c = pick(CONTENTS);
        log.push(`${step}: raw CAS ${p} '${c}'`);
        await rawOverwrite(p, c, false);
      } else if (r < 0.27) {
        const p = rawPath(pick(RAW_PATHS));
        const c = pick(CONTENTS);
        log.push(`${step}: raw stale If-Match ${p} '${c}'`);
        await rawOverwrite(p, c, true);
      } else if (r < 0.36) {
        const p = rawPath(pick(RAW_PATHS));
        log.push(`${step}: raw DELETE ${p}`);
        await rawDelete(p);
      } else if (r < 0.43) {
        const p = mavenPath(pick(MAVEN_PATHS));
        const c = pick(CONTENTS);
        log.push(`${step}: maven PUT ${p} '${c}'`);
        await mavenPut(p, c);
      } else if (r < 0.5) {
        const name = npmName(pick(NPM_NAMES));
        const again = random() < 0.3;
        log.push(`${step}: npm publish ${name}${again ? ' (same version again)' : ''}`);
        await npmPublish(name, again);
      } else if (r < 0.58) {
        const repo = `${pick(OCI_REPOS)}-${tag}`;
        const ref = pick(['latest', 'v1']);
        const c = pick(CONTENTS);
        log.push(`${step}: oci push ${repo}:${ref} layer '${c}'`);
        await ociPush(repo, ref, c);
      } else if (r < 0.62) {
        const repo = `${pick(OCI_REPOS)}-${tag}`;
        const c = pick(CONTENTS);
        log.push(`${step}: oci wrong digest ${repo} '${c}'`);
        await ociWrongDigest(repo, c);
      } else if (r < 0.7) {
        log.push(`${step}: back-date every blob 30 days`);
        await ageAll();
      } else if (r < 0.85) {
        const kind = randomGc();
        log.push(`${step}: ${describeGc(kind)}`);
        dryRun = !kind.apply;
        if (dryRun) before = await snapshot();
        await gc(kind);
      } else if (r < 0.93) {
        // A pass landing at an exact point of an upload of old bytes (back-dated first): at the
        // upload's dedup check (the driver's stat of that blob), or, for a pass in another
        // process, right after the pass removed the blob's row (the upload runs there whole).
        // Often bytes stored once and unreferenced since (a raw file put and deleted).
        let content = pick(CONTENTS);
        if (random() < 0.6) {
          content = `recycled bytes ${seed}/${step}`;
          const scratch = rawPath(`/raw/scratch/${step}.bin`);
          log.push(`${step}: raw PUT ${scratch} '${content}', DELETE it`);
          await rawPut(scratch, content);
          await rawDelete(scratch);
        }
        await ageAll();
        const [what, upload] = randomUpload(content, new Set());
        const where = pick(['server', 'other'] as const);
        const at = where === 'other' && random() < 0.5 ? 'row removal' : 'dedup check';
        log.push(`${step}: gc ${where} grace=${WEEK_S} apply at the ${at} of: ${what}`);
        const digest = `sha256:${hex('sha256', content)}`;
        if (at === 'dedup check') {
          const pass = onNextStat(
            server.app.context.blobs.driver,
            blobKey(parseDigest(digest)),
            () => gc({ where, grace: WEEK_S, apply: true, ahead: false }),
          );
          await upload();
          await pass();
        } else {
          let during: Promise<void> | undefined;
          class RacingIndex extends SqlBlobIndex {
            override async removeIfOlder(name: string, cutoff: number) {
              const outcome = await super.removeIfOlder(name, cutoff);
              if (name === digest && during === undefined) {
                during = upload();
                await during.catch(() => undefined);
              }
              return outcome;
            }
          }
          await collectGarbage({
            db,
            blobs: new BlobStore(server.app.context.blobs.driver, new RacingIndex(db)),
            formats: FORMATS,
            graceSeconds: WEEK_S,
            apply: true,
          });
          await (during ?? upload());
        }
      } else {
        // Uploads of shared bytes in flight while a pass with the default grace runs (the
        // documented safe setting next to a live server), often after back-dating every blob
        // so the pass finds old unreferenced copies of exactly the bytes being uploaded.
        const aged = random() < 0.6;
        if (aged) await ageAll();
        const content = pick(CONTENTS);
        const used = new Set<string>();
        const uploads = Array.from({ length: 2 + Math.floor(random() * 4) }, () =>
          randomUpload(random() < 0.7 ? content : pick(CONTENTS), used),
        );
        const kind: GcKind = {
          where: pick(['server', 'other'] as const),
          grace: WEEK_S,
          apply: true,
          ahead: false,
        };
        log.push(
          `${step}: concurrently${aged ? ' (after back-dating)' : ''}: ${describeGc(kind)} | ${uploads.map(([d]) => d).join(' | ')}`,
        );
        const results = await Promise.allSettled([gc(kind), ...uploads.map(([, run]) => run())]);
        for (const result of results) if (result.status === 'rejected') throw result.reason;
      }
      await checkInvariants(model, deleted);
      if (dryRun) assert.deepEqual(await snapshot(), before, 'a dry run removed nothing');
    }
  }

  /** Every blob file and blob row (a dry run must leave both as they were). */
  async function snapshot(): Promise<string[]> {
    const files = (await listFiles(path.join(server.config.storage.path, 'blobs'))).sort();
    const rows = await sql<{ digest: string }>`SELECT digest FROM blobs ORDER BY digest`.execute(
      server.app.context.db,
    );
    return [...files, ...rows.rows.map((r) => `row ${r.digest}`)];
  }

  async function checkInvariants(
    model: Map<string, Expected>,
    deleted: Set<string>,
  ): Promise<void> {
    for (const [p, expected] of model) {
      const res = await fetch(`${server.url}${p}`, {
        headers:
          expected.kind === 'oci-manifest'
            ? { accept: 'application/vnd.oci.image.manifest.v1+json' }
            : {},
      });
      const got = Buffer.from(await res.arrayBuffer());
      assert.equal(res.status, 200, `GET ${p}: ${got.toString().slice(0, 200)}`);
      assert.ok(got.equals(expected.bytes), `GET ${p}: the bytes published`);
      const sha256 = hex('sha256', expected.bytes);
      if (expected.kind === 'raw')
        assert.equal(res.headers.get('etag'), `"${sha256}"`, `ETag of ${p}`);
      if (expected.kind === 'oci-manifest' || expected.kind === 'oci-blob') {
        assert.equal(
          res.headers.get('docker-content-digest'),
          `sha256:${sha256}`,
          `digest of ${p}`,
        );
      }
      if (expected.kind === 'maven') {
        const sum = await fetch(`${server.url}${p}.sha1`);
        assert.equal(sum.status, 200, `GET ${p}.sha1`);
        assert.equal(
          (await sum.text()).trim().slice(0, 40),
          hex('sha1', expected.bytes),
          `${p}.sha1`,
        );
      }
    }
    for (const p of deleted) {
      const res = await fetch(`${server.url}${p}`);
      await res.arrayBuffer();
      assert.equal(res.status, 404, `GET ${p} after its DELETE`);
    }
    // Storage: blobs, the spool, the database (with its full-disk reserve, nora.db-reserve),
    // the serving process's PID, the audit log (NORA's `{storage_path}/audit.jsonl`, rotated
    // copies `.1`…); nothing else.
    const root = server.config.storage.path;
    for (const file of await listFiles(root)) {
      const rel = path.relative(root, file);
      assert.ok(
        rel.startsWith(`blobs${path.sep}`) ||
          rel.startsWith(`.tmp${path.sep}`) ||
          rel.startsWith(`.nora-serve${path.sep}`) ||
          /\.db(-wal|-shm|-reserve)?$/.test(rel) ||
          /^audit\.jsonl(\.\d+)?$/.test(rel),
        `a file outside blobs/, the spool, the database, the PID file and the audit log: ${rel}`,
      );
    }
  }
});

async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  const entries = await fs.readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const entry of entries) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await listFiles(full)));
    else if (entry.isFile()) out.push(full);
  }
  return out;
}
