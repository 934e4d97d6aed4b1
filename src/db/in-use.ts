/**
 * Whether another process holds a SQLite database file open: what `nora restore` refuses to
 * replace and `nora serve` checks before it shares a database (src/app.ts).
 */
import { existsSync } from 'node:fs';
import { DatabaseSync } from 'node:sqlite';

/**
 * Whether another process (or another connection of this one) holds `database` open; false when
 * the file is absent. In WAL mode every open connection holds a SHARED lock on the database file
 * for as long as it is open, so an EXCLUSIVE lock taken without waiting (busy timeout 0) fails
 * exactly when some connection has it open. A file that is not a database at all is not "in use".
 */
export function databaseInUse(database: string): boolean {
  if (database === ':memory:' || !existsSync(database)) return false;
  let db: DatabaseSync | undefined;
  try {
    db = new DatabaseSync(database);
    db.exec('PRAGMA busy_timeout = 0; PRAGMA locking_mode = EXCLUSIVE; BEGIN EXCLUSIVE; COMMIT;');
    return false;
  } catch (err) {
    // SQLITE_BUSY / SQLITE_LOCKED: held by another connection.
    const errcode = (err as { errcode?: unknown }).errcode;
    return typeof errcode === 'number' && ((errcode & 0xff) === 5 || (errcode & 0xff) === 6);
  } finally {
    db?.close();
  }
}
