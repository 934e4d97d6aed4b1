/**
 * The dashboard's `mvn deploy -DaltDeploymentRepository=…` line works with maven-deploy-plugin
 * 2.x, Maven 3.8.7's default binding, and 3.x (thirtieth session, trial 35 newA F3): the UI gave
 * `nora::<url>`, which 2.x refuses ("Invalid syntax for repository": it wants
 * `id::layout::url`). `nora::default::<url>` is read by both (3.x accepts the legacy form with
 * layout `default`, warning). Real Maven 3.8.7 deploys a pom project with the line's option and
 * each plugin version whose dependency tree the machine's local Maven repository holds (nginx
 * serves it as the upstream; mavenMissing skips): 3.1.1 here; 2.7's tree (maven-project 2.0.6)
 * is not on this machine and there is no way out to fetch it, so 2.x is checked against its
 * documented `id::layout::url` form only.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { M2_REPOSITORY, mavenMissing, mvn, tail } from '../../helpers/maven.ts';
import { startMavenRig, type MavenRig } from '../../helpers/maven-rig.ts';

/** Each plugin version and a file of its dependency tree that must be present to run it. */
const DEPLOY_PLUGINS = [
  { version: '2.7', probe: 'org/apache/maven/maven-project/2.0.6' },
  { version: '3.1.1', probe: 'org/apache/maven/plugins/maven-deploy-plugin/3.1.1' },
];
const missing = mavenMissing();

describe('the dashboard mvn deploy line', { skip: missing }, () => {
  let rig: MavenRig | undefined;

  before(async () => {
    rig = await startMavenRig({ prefix: 'nora-e2e-maven-ui-line-' });
  });

  after(async () => {
    await rig?.close();
  });

  for (const { version, probe } of DEPLOY_PLUGINS) {
    const present = path.join(M2_REPOSITORY, probe);
    test(`deploys with maven-deploy-plugin ${version}`, async (t) => {
      if (
        !(await fs.stat(present).then(
          () => true,
          () => false,
        ))
      ) {
        t.skip(`maven-deploy-plugin ${version}'s tree is not in ${M2_REPOSITORY} (no ${probe})`);
        return;
      }
      assert.ok(rig !== undefined);
      const reply = await fetch(`${rig.server.url}/api/ui/dashboard`);
      const dashboard = (await reply.json()) as { mounts: { format: string; setup: string[] }[] };
      const line =
        dashboard.mounts
          .find((m) => m.format === 'maven')
          ?.setup.find((l) => l.startsWith('mvn deploy')) ?? '';
      const option = /(-DaltDeploymentRepository=\S+)/.exec(line)?.[1];
      assert.ok(option !== undefined, line);
      // maven-deploy-plugin 2.x's documented form, id::layout::url (3.x: id::url or this).
      assert.match(option, /^-DaltDeploymentRepository=nora::default::http:\/\/\S+\/maven2\/$/);
      const project = path.join(rig.work, `project-${version}`);
      await fs.mkdir(project, { recursive: true });
      const artifactVersion = `1.0.${version.replace('.', '')}`;
      await fs.writeFile(
        path.join(project, 'pom.xml'),
        `<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>com.acme</groupId>
  <artifactId>uiline</artifactId>
  <version>${artifactVersion}</version>
  <packaging>pom</packaging>
</project>
`,
      );
      const deployed = await mvn(
        [`org.apache.maven.plugins:maven-deploy-plugin:${version}:deploy`, option],
        { cwd: project, settings: rig.settings, localRepo: path.join(rig.work, `m2-${version}`) },
      );
      assert.equal(deployed.code, 0, tail(deployed));
      const pom = await fetch(
        `${rig.server.url}/maven2/com/acme/uiline/${artifactVersion}/uiline-${artifactVersion}.pom`,
      );
      assert.equal(pom.status, 200);
    });
  }
});
