import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import {
  parseDescriptorHead,
  readPluginDescriptor,
} from '../../../src/formats/maven/plugin-descriptor.ts';
import { makeZip } from '../../integration/pypi/fixtures.ts';

const opener = (bytes: Buffer) => (start: number, end: number) =>
  Promise.resolve(Readable.from([bytes.subarray(start, end)]));

test('parseDescriptorHead: the plugin-level goalPrefix and name, not a mojo parameter', () => {
  assert.deepEqual(
    parseDescriptorHead(
      '<?xml version="1.0"?><plugin><name>A &amp; B</name><goalPrefix>gplus</goalPrefix><mojos><mojo><name>x</name><goalPrefix>no</goalPrefix></mojo></mojos></plugin>',
    ),
    { goalPrefix: 'gplus', name: 'A & B' },
  );
  // A head cut anywhere after <mojos> is enough.
  assert.deepEqual(parseDescriptorHead('<plugin><goalPrefix>p</goalPrefix><mojos><mo'), {
    goalPrefix: 'p',
    name: undefined,
  });
});

test('parseDescriptorHead: refuses what is not a sane descriptor', () => {
  assert.equal(
    parseDescriptorHead('<!DOCTYPE plugin><plugin><goalPrefix>x</goalPrefix></plugin>'),
    undefined,
  );
  assert.equal(parseDescriptorHead('<plugin><goalPrefix>x</plug'), undefined);
  assert.equal(parseDescriptorHead('<project><goalPrefix>x</goalPrefix></project>'), undefined);
  assert.equal(
    parseDescriptorHead('<plugin><goalPrefix>has space</goalPrefix></plugin>')?.goalPrefix,
    undefined,
  );
});

test('readPluginDescriptor: from a jar; undefined for no descriptor or no zip, never a throw', async () => {
  const jar = makeZip([
    { name: 'META-INF/MANIFEST.MF', data: Buffer.from('Manifest-Version: 1.0\n') },
    {
      name: 'META-INF/maven/plugin.xml',
      data: Buffer.from('<plugin><name>N</name><goalPrefix>greet</goalPrefix><mojos/></plugin>'),
    },
  ]);
  assert.deepEqual(await readPluginDescriptor(jar.length, opener(jar)), {
    goalPrefix: 'greet',
    name: 'N',
  });
  const plain = makeZip([{ name: 'a.txt', data: Buffer.from('a') }]);
  assert.equal(await readPluginDescriptor(plain.length, opener(plain)), undefined);
  const junk = Buffer.from('PK this is not a zip at all');
  assert.equal(await readPluginDescriptor(junk.length, opener(junk)), undefined);
  assert.equal(await readPluginDescriptor(0, opener(Buffer.alloc(0))), undefined);
  const failing = () => Promise.reject(new Error('storage down'));
  assert.equal(await readPluginDescriptor(jar.length, failing), undefined);
});
