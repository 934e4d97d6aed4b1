/**
 * Helm chart repository end to end, auth on and anonymous read off. The `helm` binary is not
 * packaged on this machine, so the proof is what Helm reads and what ChartMuseum clients send:
 *
 * - uploads with curl through ChartMuseum's API (raw `--data-binary`, multipart `-F chart=@…
 *   -F prov=@…`, `/api/prov`, `?force`, DELETE) and plain `curl -T` PUT;
 * - a chart repository client written from the Helm repository spec (test/helpers/helm.ts:
 *   `helm repo add` + `helm pull`: index.yaml parsed with `yaml`, newest stable version by
 *   SemVer, relative URL resolved, digest verified);
 * - the index.yaml read by Go's gopkg.in/yaml.v3 (Debian's golang-gopkg-yaml.v3-dev) into
 *   Helm's IndexFile shape, when `go` and that package are present (Helm itself reads with
 *   sigs.k8s.io/yaml, a go-yaml fork; the JSON-style entries are plain YAML flow mappings).
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import bcrypt from 'bcryptjs';
import { buildChart, helmPull, provenance, sha256 } from '../../helpers/helm.ts';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { removeDir } from '../../helpers/tmp.ts';
import { missingTools, run } from '../../helpers/tools.ts';

const GO_YAML = '/usr/share/gocode/src/gopkg.in/yaml.v3';

describe(
  'helm chart repository: curl uploads, spec client pulls (auth on)',
  { skip: missingTools('curl') },
  () => {
    let server: TestServer;
    let work = '';
    const auth = `Basic ${Buffer.from('deployer:deployer-pw').toString('base64')}`;
    const repo = () => `${server.url}/helm`;
    /** curl with the deployer's credentials; returns the HTTP status and the body. */
    const curl = async (...args: string[]) => {
      const result = await run(
        'curl',
        ['-sS', '-u', 'deployer:deployer-pw', '-w', '\n%{http_code}', ...args],
        {
          cwd: work,
          timeoutMs: 60_000,
        },
      );
      const lines = result.stdout.trimEnd().split('\n');
      const status = Number(lines.pop());
      return { status, body: lines.join('\n') };
    };
    const writeChart = async (name: string, version: string, extra?: string) => {
      const bytes = await buildChart({ name, version, ...(extra === undefined ? {} : { extra }) });
      const file = path.join(work, `${name}-${version}.tgz`);
      await fs.writeFile(file, bytes);
      return { bytes, file };
    };

    before(async () => {
      work = await fs.mkdtemp(path.join(os.tmpdir(), 'nora-helm-e2e-'));
      const htpasswd = path.join(work, 'users.htpasswd');
      await fs.writeFile(htpasswd, `deployer:${bcrypt.hashSync('deployer-pw', 5)}\n`);
      server = await startTestServer({
        config: { auth: { enabled: true, anonymous_read: false, htpasswd_file: htpasswd } },
      });
    });
    after(async () => {
      await server.close();
      await removeDir(work);
    });

    test('ChartMuseum API with curl, then helm repo add + pull semantics', async () => {
      const web1 = await writeChart('web', '1.0.0');
      let r = await curl('--data-binary', `@${web1.file}`, `${repo()}/api/charts`);
      assert.equal(r.status, 201, r.body);
      assert.deepEqual(JSON.parse(r.body), { saved: true });

      const web2 = await writeChart(
        'web',
        '1.1.0',
        'dependencies:\n  - name: db\n    version: 0.3.0\n    repository: "@nora"\n',
      );
      await fs.writeFile(`${web2.file}.prov`, provenance('web', '1.1.0', web2.bytes));
      r = await curl(
        '-F',
        `chart=@${web2.file}`,
        '-F',
        `prov=@${web2.file}.prov`,
        `${repo()}/api/charts`,
      );
      assert.equal(r.status, 201, r.body);

      const db = await writeChart('db', '0.3.0');
      r = await curl('-T', db.file, `${repo()}/db-0.3.0.tgz`);
      assert.equal(r.status, 201, r.body);
      await fs.writeFile(`${db.file}.prov`, provenance('db', '0.3.0', db.bytes));
      r = await curl('--data-binary', `@${db.file}.prov`, `${repo()}/api/prov`);
      assert.equal(r.status, 201, r.body);

      const beta = await writeChart('web', '2.0.0-beta.1');
      r = await curl('-F', `chart=@${beta.file}`, `${repo()}/api/charts`);
      assert.equal(r.status, 201, r.body);

      // Immutable: the same version again is a 409 in ChartMuseum's error shape; ?force replaces.
      r = await curl('--data-binary', `@${web1.file}`, `${repo()}/api/charts`);
      assert.equal(r.status, 409);
      assert.match((JSON.parse(r.body) as { error: string }).error, /already exists/);
      r = await curl('--data-binary', `@${web1.file}`, `${repo()}/api/charts?force`);
      assert.equal(r.status, 200, r.body);

      // Without credentials: 401 with a Basic challenge.
      const anonymous = await run('curl', [
        '-sS',
        '-o',
        '/dev/null',
        '-w',
        '%{http_code}',
        `${repo()}/index.yaml`,
      ]);
      assert.equal(anonymous.stdout, '401');

      // helm repo add nora <repo> ; helm pull nora/web (stable: 1.1.0) ; --devel: 2.0.0-beta.1
      const pulled = await helmPull(repo(), 'web', { authorization: auth });
      assert.equal(pulled.version, '1.1.0');
      assert.equal(sha256(pulled.bytes), sha256(web2.bytes));
      const devel = await helmPull(`${repo()}/`, 'web', { authorization: auth, devel: true });
      assert.equal(devel.version, '2.0.0-beta.1');
      const dep = pulled.index.entries['web']?.find((e) => e.version === '1.1.0') as
        { dependencies?: { name: string }[] } | undefined;
      assert.deepEqual(
        dep?.dependencies?.map((d) => d.name),
        ['db'],
      );
      const dbPulled = await helmPull(repo(), 'db', { authorization: auth });
      assert.deepEqual(dbPulled.bytes, db.bytes);

      // helm pull --prov / helm verify read <chart URL>.prov
      r = await curl(`${repo()}/charts/db-0.3.0.tgz.prov`);
      assert.equal(r.status, 200);
      assert.match(r.body, /name: db/);

      // ChartMuseum listings and delete.
      r = await curl(`${repo()}/api/charts/web`);
      assert.deepEqual(
        (JSON.parse(r.body) as { version: string }[]).map((v) => v.version),
        ['2.0.0-beta.1', '1.1.0', '1.0.0'],
      );
      r = await curl('-X', 'DELETE', `${repo()}/api/charts/web/2.0.0-beta.1`);
      assert.equal(r.status, 200, r.body);
      const after = await helmPull(repo(), 'web', { authorization: auth, devel: true });
      assert.equal(after.version, '1.1.0');

      // Bad input through curl: a tarball without Chart.yaml, a URL that disagrees.
      await fs.writeFile(path.join(work, 'junk.tgz'), 'not a chart');
      r = await curl('--data-binary', '@junk.tgz', `${repo()}/api/charts`);
      assert.equal(r.status, 400);
      r = await curl('-T', db.file, `${repo()}/web-9.9.9.tgz`);
      assert.equal(r.status, 400);
      assert.match(r.body, /URL names web-9.9.9.tgz/);
    });

    test(
      "index.yaml read by Go's YAML library into Helm's IndexFile shape",
      { skip: missingTools('go') || (existsSync(GO_YAML) ? false : `${GO_YAML} not installed`) },
      async () => {
        const index = await fetch(`${repo()}/index.yaml`, { headers: { authorization: auth } });
        await fs.writeFile(path.join(work, 'index.yaml'), await index.text());
        await fs.writeFile(path.join(work, 'main.go'), GO_READER);
        const result = await run('go', ['run', 'main.go', 'index.yaml'], {
          cwd: work,
          timeoutMs: 240_000,
          env: {
            ...process.env,
            GO111MODULE: 'off',
            GOPATH: '/usr/share/gocode',
            GOCACHE: path.join(work, 'gocache'),
            GOFLAGS: '',
          },
        });
        // web 1.1.0 + 1.0.0, db 0.3.0; every entry has a URL and a 64-hex digest.
        assert.equal(result.stdout.trim(), 'v1 charts=2 versions=3 ok');
      },
    );
  },
);

/** Helm's IndexFile / ChartVersion / Metadata (pkg/repo/index.go, pkg/chart/metadata.go), trimmed. */
const GO_READER = `package main

import (
	"fmt"
	"os"
	"regexp"

	"gopkg.in/yaml.v3"
)

type Maintainer struct {
	Name  string \`yaml:"name"\`
	Email string \`yaml:"email"\`
	URL   string \`yaml:"url"\`
}

type Dependency struct {
	Name       string   \`yaml:"name"\`
	Version    string   \`yaml:"version"\`
	Repository string   \`yaml:"repository"\`
	Condition  string   \`yaml:"condition"\`
	Tags       []string \`yaml:"tags"\`
	Alias      string   \`yaml:"alias"\`
}

type ChartVersion struct {
	APIVersion   string            \`yaml:"apiVersion"\`
	Name         string            \`yaml:"name"\`
	Version      string            \`yaml:"version"\`
	AppVersion   string            \`yaml:"appVersion"\`
	Description  string            \`yaml:"description"\`
	Keywords     []string          \`yaml:"keywords"\`
	Maintainers  []*Maintainer     \`yaml:"maintainers"\`
	Dependencies []*Dependency     \`yaml:"dependencies"\`
	Annotations  map[string]string \`yaml:"annotations"\`
	Type         string            \`yaml:"type"\`
	Deprecated   bool              \`yaml:"deprecated"\`
	URLs         []string          \`yaml:"urls"\`
	Created      string            \`yaml:"created"\`
	Digest       string            \`yaml:"digest"\`
}

type IndexFile struct {
	APIVersion string                     \`yaml:"apiVersion"\`
	Generated  string                     \`yaml:"generated"\`
	Entries    map[string][]*ChartVersion \`yaml:"entries"\`
}

func main() {
	data, err := os.ReadFile(os.Args[1])
	if err != nil {
		panic(err)
	}
	var idx IndexFile
	if err := yaml.Unmarshal(data, &idx); err != nil {
		fmt.Println("unmarshal:", err)
		os.Exit(1)
	}
	hex := regexp.MustCompile("^[0-9a-f]{64}$")
	versions := 0
	for name, list := range idx.Entries {
		for _, v := range list {
			versions++
			if v.Name != name || len(v.URLs) == 0 || !hex.MatchString(v.Digest) || v.Created == "" {
				fmt.Println("bad entry", name, v.Version)
				os.Exit(1)
			}
		}
	}
	fmt.Printf("%s charts=%d versions=%d ok\\n", idx.APIVersion, len(idx.Entries), versions)
}
`;
