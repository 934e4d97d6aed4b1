/**
 * A hosted crate whose stored bytes are gone (removed after failing the integrity check on
 * read, docs/storage.md) answers 503. Cargo has no delete and versions are immutable, so the
 * publisher's only way to repair it is to publish the identical `.crate` again: still refused
 * ("already exists", as crates.io does), but the bytes must be stored again. They were not: the
 * crate stayed 503 for good. A different `.crate` for that version stores nothing.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import { startTestServer } from '../../helpers/server.ts';
import { makeCrate, metadata, publishBody } from './fixtures.ts';

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('cargo: publishing the identical .crate again repairs its missing bytes', () => {
  test('blob removed: download 410, same publish 409 "already exists", download 200', async () => {
    await using server = await startTestServer({});
    const crate = await makeCrate('repair-me', '0.1.0');
    const publish = async (bytes: Buffer) => {
      const res = await fetch(`${server.url}/cargo/api/v1/crates/new`, {
        method: 'PUT',
        body: publishBody(metadata('repair-me', '0.1.0'), bytes),
      });
      return { status: res.status, text: await res.text() };
    };
    const first = await publish(crate);
    assert.equal(first.status, 200, first.text);
    const download = `${server.url}/cargo/api/v1/crates/repair-me/0.1.0/download`;
    const hex = sha256(crate);
    const file = path.join(server.dataDir, 'storage', 'blobs', 'sha256', hex.slice(0, 2), hex);
    await fs.rm(file);
    await new Promise((resolve) => setTimeout(resolve, 1100)); // past the answer memo
    const broken = await fetch(download);
    await broken.arrayBuffer();
    assert.equal(broken.status, 410);

    // Another .crate for the same version: refused, and nothing stored for it.
    const other = await makeCrate('repair-me', '0.1.0', { extra: { 'repair-me-0.1.0/x': 'x' } });
    const refused = await publish(other);
    assert.equal(refused.status, 409, refused.text);
    const otherHex = sha256(other);
    await assert.rejects(
      fs.stat(
        path.join(server.dataDir, 'storage', 'blobs', 'sha256', otherHex.slice(0, 2), otherHex),
      ),
    );

    const again = await publish(crate);
    assert.equal(again.status, 409, again.text);
    assert.match(again.text, /already exists/);
    const repaired = await fetch(download);
    assert.equal(repaired.status, 200);
    assert.equal(sha256(Buffer.from(await repaired.arrayBuffer())), hex);
  });
});
