/**
 * Which credentials `nora go publish|delete` sends (registryOf): `--token` first, then
 * `user:secret@` typed in `--registry`, then NORA_TOKEN from the environment — a token exported
 * for another registry must not replace credentials written on the command line (trial 15 godel
 * F13).
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, test } from 'node:test';
import { registryOf } from '../../../src/formats/go/publish-cli.ts';

const fail = (message: string) => new Error(message);
const basic = (userPass: string) => `Basic ${Buffer.from(userPass).toString('base64')}`;
let saved: string | undefined;
beforeEach(() => {
  saved = process.env['NORA_TOKEN'];
  process.env['NORA_TOKEN'] = 'nra_from_env';
});
afterEach(() => {
  if (saved === undefined) delete process.env['NORA_TOKEN'];
  else process.env['NORA_TOKEN'] = saved;
});

test('URL credentials win over NORA_TOKEN; the prefix keeps no credentials', () => {
  const { prefix, headers } = registryOf(
    { registry: 'http://alice:pw%40x@127.0.0.1:4000/go/' },
    fail,
  );
  assert.equal(prefix, 'http://127.0.0.1:4000/go');
  assert.equal(headers['authorization'], basic('alice:pw@x'));
});

test('--token wins over URL credentials', () => {
  const { headers } = registryOf(
    { registry: 'http://alice:pw@127.0.0.1:4000/go', token: 'nra_flag' },
    fail,
  );
  assert.equal(headers['authorization'], 'Bearer nra_flag');
});

test('without URL credentials or --token: NORA_TOKEN; none at all: no header', () => {
  assert.equal(
    registryOf({ registry: 'http://127.0.0.1:4000/go' }, fail).headers['authorization'],
    'Bearer nra_from_env',
  );
  delete process.env['NORA_TOKEN'];
  assert.equal(
    registryOf({ registry: 'http://127.0.0.1:4000/go' }, fail).headers['authorization'],
    undefined,
  );
});
