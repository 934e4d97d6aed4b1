/**
 * The database's space reserve (db/reserve.ts): made when there is room, released only for work
 * that frees space, and a write that met SQLITE_FULL retried once then, when nothing of the
 * failed attempt is left; never for an upload (outside `freesSpace`).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { freesSpace, retryOnFull, SpaceReserve } from '../../../src/db/reserve.ts';

const full = () => Object.assign(new Error('database or disk is full'), { errcode: 13 });

function withReserve(run: (reserve: SpaceReserve, file: string) => void): void {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nora-reserve-'));
  try {
    const reserve = new SpaceReserve(path.join(dir, 'nora.db'), 64 * 1024);
    assert.equal(reserve.ensure(), 'held');
    const file = path.join(dir, 'nora.db-reserve');
    assert.equal(fs.statSync(file).size, 64 * 1024);
    run(reserve, file);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

test('a write that frees space is retried once after the reserve is released', () => {
  withReserve((reserve, file) => {
    let attempts = 0;
    const db = { isTransaction: false };
    const result = freesSpace(undefined, () =>
      retryOnFull(db, reserve, () => {
        attempts += 1;
        if (attempts === 1) throw full();
        return 'deleted';
      }),
    );
    assert.equal(result, 'deleted');
    assert.equal(attempts, 2);
    assert.equal(reserve.state, 'released');
    assert.equal(reserve.full, true);
    assert.ok(!fs.existsSync(file));
    // Made again once there is room: the condition clears.
    assert.equal(reserve.ensure(), 'held');
    assert.equal(reserve.full, false);
  });
});

test('an upload (outside freesSpace) is not retried and leaves the reserve', () => {
  withReserve((reserve, file) => {
    let attempts = 0;
    assert.throws(
      () =>
        retryOnFull({ isTransaction: false }, reserve, () => {
          attempts += 1;
          throw full();
        }),
      /disk is full/,
    );
    assert.equal(attempts, 1);
    assert.equal(reserve.state, 'held');
    assert.equal(reserve.full, true, 'the condition is reported all the same');
    assert.ok(fs.existsSync(file));
  });
});

test('a statement whose transaction SQLite rolled back is not retried; other errors pass', () => {
  withReserve((reserve) => {
    const db = { isTransaction: true };
    let attempts = 0;
    assert.throws(() =>
      freesSpace(undefined, () =>
        retryOnFull(db, reserve, () => {
          attempts += 1;
          db.isTransaction = false;
          throw full();
        }),
      ),
    );
    assert.equal(attempts, 1);
    const other = new Error('constraint');
    assert.throws(
      () =>
        freesSpace(undefined, () =>
          retryOnFull({ isTransaction: false }, reserve, () => {
            throw other;
          }),
        ),
      (err) => err === other,
    );
  });
});

test('an in-memory database has no reserve', () => {
  const reserve = new SpaceReserve(':memory:');
  assert.equal(reserve.ensure(), 'none');
  assert.equal(reserve.release(), false);
});
