/**
 * The SQLite store is its owner's only, under the usual umask 0022 (which would leave new files
 * 0644, readable by every local user): the directory made for it is 0700, the database, its -wal
 * and its -shm are 0600; a store whose files were made 0644 before is tightened when opened; a
 * directory that existed already is left as its owner made it.
 */
import { chmodSync, existsSync, mkdirSync, mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqliteStore } from './sqlite-store.js';

const mode = (path: string) => statSync(path).mode & 0o777;

let previousUmask: number;
beforeEach(() => {
  previousUmask = process.umask(0o022);
});
afterEach(() => {
  process.umask(previousUmask);
});

describe('SQLite store file modes', () => {
  it('a new store: its new directories 0700, the database, -wal and -shm 0600', async () => {
    const root = mkdtempSync(join(tmpdir(), 'funnelbeacon-modes-'));
    const path = join(root, 'data', 'nested', 'funnelbeacon.db');
    const store = SqliteStore.fromUrl(`file:${path}`);
    try {
      await store.migrate();
      await store.setMetaIfAbsent('secret', 'a-sandbox-secret-kept-in-the-store');
      expect(existsSync(`${path}-wal`) && existsSync(`${path}-shm`)).toBe(true);
      expect({ data: mode(join(root, 'data')), nested: mode(join(root, 'data', 'nested')), db: mode(path), wal: mode(`${path}-wal`), shm: mode(`${path}-shm`) }).toEqual({
        data: 0o700,
        nested: 0o700,
        db: 0o600,
        wal: 0o600,
        shm: 0o600,
      });
      // The directory it was made in (here mkdtemp's) is not the collector's to change.
      expect(mode(root)).toBe(0o700);
    } finally {
      await store.close();
    }
  });

  it('an existing store made world-readable is tightened at open; an existing directory is left as it is', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'funnelbeacon-modes-')), 'shared');
    mkdirSync(dir, { mode: 0o755 });
    chmodSync(dir, 0o755);
    const path = join(dir, 'old.db');
    // As an older version left it: SQLite's default modes under umask 0022, -wal and -shm beside it.
    const old = new Database(path);
    old.pragma('journal_mode = WAL');
    old.exec('CREATE TABLE t (x); INSERT INTO t VALUES (1);');
    const keep = new Database(path);
    keep.prepare('SELECT * FROM t').all();
    old.close();
    for (const file of [path, `${path}-wal`, `${path}-shm`]) {
      expect(existsSync(file), file).toBe(true);
      chmodSync(file, 0o644);
    }

    const store = SqliteStore.fromUrl(`file:${path}`);
    try {
      await store.migrate();
      expect({ dir: mode(dir), db: mode(path), wal: mode(`${path}-wal`), shm: mode(`${path}-shm`) }).toEqual({ dir: 0o755, db: 0o600, wal: 0o600, shm: 0o600 });
    } finally {
      await store.close();
      keep.close();
    }
  });
});
