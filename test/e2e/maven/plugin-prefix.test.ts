/**
 * Real Maven (Debian's 3.8.7) runs a plugin NORA hosts by its declared goal prefix: a plugin jar
 * `com.acme.tools:hello-maven-plugin:1.0.0` whose `META-INF/maven/plugin.xml` says
 * `<goalPrefix>greet</goalPrefix>` (the artifactId rule would give `hello`) is deployed with
 * `mvn deploy:deploy-file` (packaging maven-plugin) to `/maven2/`; with
 * `<pluginGroup>com.acme.tools</pluginGroup>`, `mvn greet:hello` reads the group-level
 * `maven-metadata.xml`, finds the prefix, resolves the plugin and runs its goal.
 *
 * The plugin is built here: one mojo compiled with javac against Maven's own maven-plugin-api,
 * and a hand-written descriptor (what maven-plugin-plugin would generate). nginx serves the
 * machine's local Maven repository as the upstream, for maven-deploy-plugin's tree.
 */
import assert from 'node:assert/strict';
import { readdirSync, realpathSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { PLUGINS, mavenMissing, mvn, tail } from '../../helpers/maven.ts';
import { startMavenRig, type MavenRig } from '../../helpers/maven-rig.ts';
import { findTool, run } from '../../helpers/tools.ts';

/** Maven's own maven-plugin-api jar (in its lib directory), to compile the mojo against. */
function pluginApiJar(): string | undefined {
  const mvnPath = findTool('mvn');
  if (mvnPath === undefined) return undefined;
  try {
    const lib = path.join(path.dirname(path.dirname(realpathSync(mvnPath))), 'lib');
    const name = readdirSync(lib).find((n) => /^maven-plugin-api.*\.jar$/.test(n));
    return name === undefined ? undefined : path.join(lib, name);
  } catch {
    return undefined;
  }
}

const API = pluginApiJar();
const missing =
  mavenMissing() ||
  (findTool('javac') === undefined || findTool('jar') === undefined
    ? 'JDK (javac, jar) not installed'
    : false) ||
  (API === undefined ? "Maven's maven-plugin-api jar not found next to mvn" : false);
const TIMEOUT = 300_000;

const DESCRIPTOR = `<?xml version="1.0" encoding="UTF-8"?>
<plugin>
  <name>Hello Plugin</name>
  <description>Says hello.</description>
  <groupId>com.acme.tools</groupId>
  <artifactId>hello-maven-plugin</artifactId>
  <version>1.0.0</version>
  <goalPrefix>greet</goalPrefix>
  <isolatedRealm>false</isolatedRealm>
  <inheritedByDefault>true</inheritedByDefault>
  <mojos>
    <mojo>
      <goal>hello</goal>
      <description>Says hello.</description>
      <requiresDirectInvocation>false</requiresDirectInvocation>
      <requiresProject>false</requiresProject>
      <requiresReports>false</requiresReports>
      <aggregator>false</aggregator>
      <requiresOnline>false</requiresOnline>
      <inheritedByDefault>true</inheritedByDefault>
      <implementation>com.acme.tools.HelloMojo</implementation>
      <language>java</language>
      <instantiationStrategy>per-lookup</instantiationStrategy>
      <executionStrategy>once-per-session</executionStrategy>
      <threadSafe>true</threadSafe>
      <parameters/>
    </mojo>
  </mojos>
  <dependencies>
    <dependency><groupId>org.codehaus.plexus</groupId><artifactId>plexus-utils</artifactId><type>jar</type><version>3.4.2</version></dependency>
  </dependencies>
</plugin>
`;

const POM = `<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>com.acme.tools</groupId>
  <artifactId>hello-maven-plugin</artifactId>
  <version>1.0.0</version>
  <packaging>maven-plugin</packaging>
  <name>Hello Plugin</name>
  <!-- Maven adds plexus-utils 1.1 to a plugin without one; the upstream tree has 3.4.2. -->
  <dependencies><dependency><groupId>org.codehaus.plexus</groupId><artifactId>plexus-utils</artifactId><version>3.4.2</version></dependency></dependencies>
</project>
`;

const MOJO = `package com.acme.tools;
public class HelloMojo extends org.apache.maven.plugin.AbstractMojo {
  public void execute() { getLog().info("GREETINGS FROM THE GREET PLUGIN"); }
}
`;

describe('mvn runs a NORA-hosted plugin by its declared goalPrefix', { skip: missing }, () => {
  let rig: MavenRig | undefined;
  let work = '';
  let settings = '';
  let jar = '';
  let pom = '';
  const serverUrl = () => rig?.server.url ?? '';

  before(async () => {
    rig = await startMavenRig({
      prefix: 'nora-e2e-maven-prefix-',
      settings: (xml) =>
        xml.replace(
          '<mirrors>',
          '<pluginGroups><pluginGroup>com.acme.tools</pluginGroup></pluginGroups>\n  <mirrors>',
        ),
    });
    ({ work, settings } = rig);
    // The plugin jar: the compiled mojo and its descriptor.
    const src = path.join(work, 'src/com/acme/tools');
    const classes = path.join(work, 'classes');
    await fs.mkdir(src, { recursive: true });
    await fs.mkdir(path.join(classes, 'META-INF/maven'), { recursive: true });
    await fs.writeFile(path.join(src, 'HelloMojo.java'), MOJO);
    await run('javac', [
      '--release',
      '8',
      '-cp',
      API ?? '',
      '-d',
      classes,
      path.join(src, 'HelloMojo.java'),
    ]);
    await fs.writeFile(path.join(classes, 'META-INF/maven/plugin.xml'), DESCRIPTOR);
    jar = path.join(work, 'hello-maven-plugin-1.0.0.jar');
    await run('jar', ['--create', '--file', jar, '-C', classes, '.']);
    pom = path.join(work, 'pom-of-plugin.xml');
    await fs.writeFile(pom, POM);
  });

  after(async () => {
    await rig?.close();
  });

  test(
    'deploy-file (maven-plugin), then `mvn greet:hello` resolves and runs it',
    { timeout: TIMEOUT },
    async () => {
      const empty = path.join(work, 'empty');
      await fs.mkdir(empty, { recursive: true });
      const deployed = await mvn(
        [
          `org.apache.maven.plugins:maven-deploy-plugin:${PLUGINS['maven-deploy-plugin'] ?? ''}:deploy-file`,
          `-Dfile=${jar}`,
          `-DpomFile=${pom}`,
          `-Durl=${serverUrl()}/maven2/`,
          '-DrepositoryId=nora',
        ],
        { cwd: empty, settings, localRepo: path.join(work, 'm2-deploy') },
      );
      assert.equal(deployed.code, 0, tail(deployed));

      const metadata = await (
        await fetch(`${serverUrl()}/maven2/com/acme/tools/maven-metadata.xml`)
      ).text();
      assert.match(
        metadata,
        /<name>Hello Plugin<\/name>\s*<prefix>greet<\/prefix>\s*<artifactId>hello-maven-plugin<\/artifactId>/,
      );

      const ran = await mvn(['greet:hello'], {
        cwd: empty,
        settings,
        localRepo: path.join(work, 'm2-run'),
      });
      assert.equal(ran.code, 0, tail(ran));
      assert.match(ran.stdout, /GREETINGS FROM THE GREET PLUGIN/);
    },
  );
});
