/**
 * @module backup
 * `funnelbeacon backup FILE`: a consistent copy of the SQLite store, taken while the collector
 * keeps running, with SQLite's online backup API (better-sqlite3's `db.backup()`).
 *
 * The copy is taken from a connection of its own, in WAL mode, so the collector is never
 * blocked: readers and the writer do not wait on each other. The whole database is copied in one
 * backup step, which reads one snapshot: a copy made in several steps restarts whenever another
 * process writes between two steps, and under steady traffic might never finish. The copy is
 * written next to FILE and renamed into place only once it passed `PRAGMA quick_check`, so FILE
 * is either absent or a complete, checked database.
 *
 * A backup holds every buyer's lead (and, in sandbox mode, the signing secret): the copy is the
 * owner's only from its first byte (the partial is made 0600 before SQLite writes to it, and the
 * directories made for it 0700; store/owner-only.ts), whatever the umask of the job running it.
 *
 * PostgreSQL stores are backed up with `pg_dump`; this module refuses them.
 */
import { existsSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { ensureOwnerOnlyFile, makeOwnerOnlyDir } from './owner-only.js';

export interface BackupResult {
  file: string;
  bytes: number;
  pages: number;
  sessions: number;
  events: number;
  jobs: number;
  ms: number;
}

export class BackupError extends Error {}

/** The SQLite path of a `file:` DATABASE_URL, or undefined for PostgreSQL. */
export function sqlitePathOf(databaseUrl: string): string | undefined {
  if (!databaseUrl.startsWith('file:')) return undefined;
  const path = databaseUrl.replace(/^file:(\/\/)?/, '');
  return path === '' || path === ':memory:' ? ':memory:' : path;
}

export async function backupSqlite(databaseUrl: string, target: string): Promise<BackupResult> {
  const source = sqlitePathOf(databaseUrl);
  if (source === undefined) {
    throw new BackupError(
      'DATABASE_URL is PostgreSQL: back it up with pg_dump (for example `pg_dump --format=custom --file=funnelbeacon.dump "$DATABASE_URL"`), restore with pg_restore; see docs/deploy.md',
    );
  }
  if (source === ':memory:') throw new BackupError('DATABASE_URL is an in-memory SQLite database: there is nothing on disk to back up');
  if (!existsSync(source)) throw new BackupError(`no SQLite store at ${source} (DATABASE_URL)`);
  const file = resolve(target);
  if (file === resolve(source)) throw new BackupError('the backup file is the store itself');
  if (existsSync(file)) throw new BackupError(`${target} exists: choose a new file name (a backup never overwrites)`);
  makeOwnerOnlyDir(dirname(file));

  const started = performance.now();
  // This connection only reads: it never runs migrations or writes to the live store. (Not opened
  // `readonly`: a read-only connection cannot open a WAL database whose -shm file is missing,
  // as it is when no collector runs.)
  const db = new Database(source, { fileMustExist: true });
  const partial = `${file}.partial`;
  rmSync(partial, { force: true });
  try {
    // An empty file is an empty database to SQLite; made here, it is 0600 before any page lands.
    ensureOwnerOnlyFile(partial);
    db.pragma('busy_timeout = 5000');
    // better-sqlite3's first step only opens the backup; the next one copies every page in one
    // read transaction, one snapshot (see the module note).
    const { totalPages } = await db.backup(partial, { progress: () => 0x7fffffff });
    const copy = new Database(partial);
    let counts: { sessions: number; events: number; jobs: number };
    try {
      const check = copy.pragma('quick_check', { simple: true });
      if (check !== 'ok') throw new BackupError(`the copy failed its integrity check: ${String(check)}`);
      const count = (table: string) => Number((copy.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number }).n);
      counts = { sessions: count('sessions'), events: count('events'), jobs: count('outbox') };
      // A self-contained file: no -wal beside it (the backup is written in rollback-journal mode
      // unless the source header says WAL; checkpoint and switch so one file is the whole copy).
      copy.pragma('journal_mode = DELETE');
    } finally {
      copy.close();
    }
    renameSync(partial, file);
    return { file, bytes: statSync(file).size, pages: totalPages, ...counts, ms: performance.now() - started };
  } catch (error) {
    rmSync(partial, { force: true });
    rmSync(`${partial}-wal`, { force: true });
    rmSync(`${partial}-shm`, { force: true });
    throw error;
  } finally {
    db.close();
  }
}
