/**
 * @module sqlite-rows.test
 * The SQLite store builds query rows itself (raw rows, one object literal per statement's
 * columns): the rows must be what better-sqlite3 answers, and a schema changed by another
 * process sharing the file must show in the next read, in a transaction or outside one.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteStore } from './sqlite-store.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

async function storeOnFile(): Promise<{ store: SqliteStore; path: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'funnelbeacon-rows-'));
  dirs.push(dir);
  const path = join(dir, 'store.db');
  const store = new SqliteStore(path);
  await store.migrate();
  return { store, path };
}

describe('SQLite rows', () => {
  it('are the objects better-sqlite3 makes: same keys in the same order, same values, plain objects', async () => {
    const { store, path } = await storeOnFile();
    await store.transaction((tx) =>
      tx.insertSession({ id: 'a'.repeat(22), campaignId: '12', createdAt: 1, lastSeenAt: 2, landingUrl: 'https://x.example/', referrer: undefined, userAgent: 'ua', ip: '1.2.3.4', isBot: false }),
    );
    const sql = 'SELECT *, id AS again, 1 AS id FROM sessions';
    const ours = await store.sql().all<Record<string, unknown>>(sql);
    const direct = new Database(path, { readonly: true });
    const theirs = direct.prepare(sql).all() as Record<string, unknown>[];
    direct.close();
    expect(ours).toStrictEqual(theirs);
    expect(Object.keys(ours[0]!)).toEqual(Object.keys(theirs[0]!));
    expect(Object.getPrototypeOf(ours[0])).toBe(Object.prototype);
    expect(ours[0]!.id).toBe(1);
    await store.close();
  });

  it('show a column another process added, outside a transaction and inside one', async () => {
    const { store, path } = await storeOnFile();
    await store.sql().run("INSERT INTO meta (key, value) VALUES ('rows.test', 'v')");
    const read = "SELECT * FROM meta WHERE key = 'rows.test'";
    expect(Object.keys((await store.sql().all(read))[0]!)).toEqual(['key', 'value']);
    const other = new Database(path);
    other.exec("ALTER TABLE meta ADD COLUMN extra TEXT DEFAULT 'x'");
    expect((await store.sql().all<Record<string, unknown>>(read))[0]).toMatchObject({ extra: 'x' });
    other.exec("ALTER TABLE meta ADD COLUMN more TEXT DEFAULT 'y'");
    const inside = await store.sql().transaction((sqlInside) => sqlInside.all<Record<string, unknown>>(read));
    expect(inside[0]).toMatchObject({ extra: 'x', more: 'y' });
    other.close();
    await store.close();
  });
});
