/**
 * A bad `NORA_AUDIT_ACTIONS` is refused with an example of actions, in both the variable's and
 * the file's form, not the upstream URLs other list variables show (trial 28 newU F13).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfigObject } from '../../../src/config/load.ts';
import { configError } from '../../helpers/config.ts';

test('NORA_AUDIT_ACTIONS=push,bogus: the message names the item and shows actions as the example', () => {
  const message = configError(() => parseConfigObject({}, { NORA_AUDIT_ACTIONS: 'push,bogus' }));
  assert.match(message, /audit\.actions\[1\] \(from NORA_AUDIT_ACTIONS\)/);
  assert.ok(
    message.includes(
      'NORA_AUDIT_ACTIONS takes "a comma list of actions, such as push,delete,token-create" or the file\'s array \'["push", "delete", "token-create"]\'',
    ),
    message,
  );
  assert.doesNotMatch(message, /https:\/\/|url =/);
});
