/** Reading a test server's audit log: its JSON lines, waited for (the log flushes every 500 ms). */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { AuditEvent } from '../../../src/audit/types.ts';
import type { TestServer } from '../../helpers/server.ts';

/** `<storage>/audit.jsonl` of a test server (the default path). */
export const auditFile = (server: TestServer): string =>
  path.join(server.dataDir, 'storage', 'audit.jsonl');

/** The file's text ('' when absent). */
export async function auditText(file: string): Promise<string> {
  return fs.readFile(file, 'utf8').catch(() => '');
}

/** Every event in `file`, parsed (each line must be one JSON object). */
export async function auditEvents(file: string): Promise<AuditEvent[]> {
  const text = await auditText(file);
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as AuditEvent);
}

/**
 * Waits (up to `ms`) until `file` holds events for which `done` is true; returns them all.
 * Fails with what the file holds when it never does.
 */
export async function untilEvents(
  file: string,
  done: (events: readonly AuditEvent[]) => boolean,
  ms = 5_000,
): Promise<AuditEvent[]> {
  const deadline = Date.now() + ms;
  for (;;) {
    const events = await auditEvents(file);
    if (done(events)) return events;
    if (Date.now() > deadline) {
      assert.fail(`audit log never had what was expected; it holds:\n${await auditText(file)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** `action artifact` of each event, for compact assertions. */
export const summary = (events: readonly AuditEvent[]): string[] =>
  events.map((e) => `${e.action} ${e.actor} ${e.artifact}`);
