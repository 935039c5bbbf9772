/**
 * @module schema-parity.test
 * Both stores run the same statements (plans.ts), so their migrated schemas must agree: the same
 * tables, columns (normalised types, NOT NULL, primary key) and indexes (name, columns, partial).
 * Types are compared as families: SQLite's INTEGER stands for PostgreSQL's INTEGER and BIGINT,
 * and, for the columns `BOOLEAN_COLUMNS` names, for BOOLEAN (SQLite has no boolean type).
 * Also: a store of migration 7 upgrades to that schema with its rows intact.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { testPostgres } from '../../test/support/postgres.js';
import { PostgresStore } from './postgres-store.js';
import { BOOLEAN_COLUMNS } from './rows.js';
import { POSTGRES_MIGRATIONS } from './postgres-migrations.js';
import { SQLITE_MIGRATIONS } from './sqlite-migrations.js';
import { SqliteStore } from './sqlite-store.js';
import type { Store } from './store.js';

interface Schema {
  /** `table.column` -> `type [not null] [pk]` */
  columns: Record<string, string>;
  /** `index` -> `table (columns) [partial]` */
  indexes: Record<string, string>;
}

/**
 * The one deliberate difference: `events.seq` (and its index) is PostgreSQL's stand-in for the
 * implicit rowid every SQLite table has, which `listEvents` orders by (dialect.ts `eventOrder`).
 */
const POSTGRES_ONLY = { columns: ['events.seq'], indexes: ['events_by_session_seq'] };

const family = (table: string, column: string, type: string): string => {
  const t = type.toLowerCase();
  if (t === 'boolean' || (BOOLEAN_COLUMNS[table]?.includes(column) && t === 'integer')) return 'boolean';
  if (t === 'integer' || t === 'bigint') return 'integer';
  return t;
};

const column = (table: string, name: string, type: string, notNull: boolean, pk: boolean) =>
  `${family(table, name, type)}${notNull || pk ? ' not null' : ''}${pk ? ' pk' : ''}`;

async function sqliteSchema(): Promise<Schema> {
  const dir = mkdtempSync(join(tmpdir(), 'funnelbeacon-parity-'));
  try {
    const store = new SqliteStore(join(dir, 'store.db'));
    await store.migrate();
    await store.close();
    const db = new Database(join(dir, 'store.db'), { readonly: true });
    const schema: Schema = { columns: {}, indexes: {} };
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'").pluck().all() as string[];
    for (const table of tables) {
      for (const c of db.prepare('SELECT name, type, "notnull" AS nn, pk FROM pragma_table_info(?)').all(table) as Record<string, unknown>[]) {
        schema.columns[`${table}.${String(c.name)}`] = column(table, String(c.name), String(c.type), c.nn === 1, Number(c.pk) > 0);
      }
    }
    const indexes = db.prepare("SELECT name, tbl_name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL").all() as Record<string, string>[];
    for (const index of indexes) {
      const columns = db.prepare('SELECT name FROM pragma_index_xinfo(?) WHERE key = 1 ORDER BY seqno').pluck().all(index.name) as (string | null)[];
      schema.indexes[index.name!] = `${index.tbl_name} (${columns.map((name) => name ?? '(expression)').join(', ')})${/\bWHERE\b/i.test(index.sql!) ? ' partial' : ''}`;
    }
    db.close();
    return schema;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function postgresSchema(url: string, schemaName: string): Promise<Schema> {
  const store = PostgresStore.fromUrl(url, { schema: schemaName });
  await store.migrate();
  await store.close();
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const schema: Schema = { columns: {}, indexes: {} };
    const columns = await client.query(
      `SELECT c.table_name, c.column_name, c.data_type, c.is_nullable = 'NO' AS not_null,
              EXISTS (SELECT 1 FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
                       WHERE i.indisprimary AND i.indrelid = format('%I.%I', c.table_schema, c.table_name)::regclass
                         AND a.attname = c.column_name) AS pk
         FROM information_schema.columns c JOIN information_schema.tables t USING (table_schema, table_name)
        WHERE c.table_schema = $1 AND t.table_type = 'BASE TABLE'`,
      [schemaName],
    );
    for (const c of columns.rows) {
      schema.columns[`${c.table_name}.${c.column_name}`] = column(c.table_name, c.column_name, c.data_type, c.not_null, c.pk);
    }
    const indexes = await client.query(
      `SELECT ic.relname AS name, tc.relname AS table, ix.indpred IS NOT NULL AS partial,
              array_to_string(ARRAY(SELECT COALESCE(a.attname::text, '(expression)') FROM unnest(ix.indkey::int2[]) WITH ORDINALITY AS k(attnum, n)
                      LEFT JOIN pg_attribute a ON a.attrelid = ix.indrelid AND a.attnum = k.attnum ORDER BY k.n), ', ') AS columns
         FROM pg_index ix JOIN pg_class ic ON ic.oid = ix.indexrelid JOIN pg_class tc ON tc.oid = ix.indrelid
         JOIN pg_namespace n ON n.oid = tc.relnamespace
        WHERE n.nspname = $1 AND NOT ix.indisprimary`,
      [schemaName],
    );
    for (const index of indexes.rows) {
      schema.indexes[index.name] = `${index.table} (${index.columns})${index.partial ? ' partial' : ''}`;
    }
    for (const name of POSTGRES_ONLY.columns) delete schema.columns[name];
    for (const name of POSTGRES_ONLY.indexes) delete schema.indexes[name];
    return schema;
  } finally {
    await client.end();
  }
}

const postgres = await testPostgres();

afterAll(() => postgres.dropSchemas());

describe.skipIf(postgres.skip !== undefined)('schema parity', () => {
  it('migrates SQLite and PostgreSQL to the same tables, columns, types and indexes', async () => {
    const [sqlite, postgresql] = await Promise.all([sqliteSchema(), postgresSchema(postgres.url, postgres.newSchema())]);
    expect(Object.keys(sqlite.columns).length).toBeGreaterThan(50);
    expect(Object.keys(sqlite.indexes).length).toBeGreaterThan(15);
    expect(sqlite.columns['sessions.funnel_done']).toBe('boolean not null');
    expect(sqlite.indexes.sessions_abandoned_by_email).toBe('sessions ((expression)) partial');
    expect(postgresql).toEqual(sqlite);
  });
});

/** Rows written by a collector of migration 7, before the state history had its own order. */
const BEFORE = [
  'INSERT INTO sessions (id, campaign_id, created_at, last_seen_at, user_agent, ip, funnel_done) VALUES (\'s1\', \'1\', 5, 5, \'x\', \'1\', 1)',
  ...['open', 'ordered', 'open', 'complete'].map((state) => `INSERT INTO session_states (session_id, state, at) VALUES ('s1', '${state}', 5)`),
];

async function expectUpgraded(store: Store): Promise<void> {
  await store.migrate();
  expect((await store.getSession('s1'))?.funnelDone).toBe(true);
  expect((await store.listStateChanges('s1')).map((change) => change.state)).toEqual(['open', 'ordered', 'open', 'complete']);
  await store.updateSession('s1', { state: 'expired', stateChangedAt: 5, funnelDone: false });
  expect((await store.listStateChanges('s1')).at(-1)).toEqual({ state: 'expired', at: 5 });
  expect((await store.getSession('s1'))?.funnelDone).toBe(false);
  await store.close();
}

/** A SQLite store left at migration `version` by an older collector, holding `rows`. */
async function sqliteStoreAt(dir: string, version: number, rows: readonly string[]): Promise<Store> {
  const db = new Database(join(dir, 'store.db'));
  db.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)');
  for (const migration of SQLITE_MIGRATIONS.filter((m) => m.version <= version)) {
    db.exec(migration.sql);
    db.prepare('INSERT INTO schema_migrations VALUES (?, 0)').run(migration.version);
  }
  for (const sql of rows) db.exec(sql);
  db.close();
  return new SqliteStore(join(dir, 'store.db'));
}

/** The same on PostgreSQL, in a fresh schema. */
async function postgresStoreAt(version: number, rows: readonly string[]): Promise<Store> {
  const schema = postgres.newSchema();
  const client = new pg.Client({ connectionString: postgres.url });
  await client.connect();
  try {
    await client.query(`CREATE SCHEMA ${schema}; SET search_path = ${schema}`);
    await client.query('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)');
    for (const migration of POSTGRES_MIGRATIONS.filter((m) => m.version <= version)) {
      await client.query(migration.sql);
      await client.query('INSERT INTO schema_migrations VALUES ($1, 0)', [migration.version]);
    }
    for (const sql of rows) await client.query(sql);
  } finally {
    await client.end();
  }
  return PostgresStore.fromUrl(postgres.url, { schema });
}

async function inTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'funnelbeacon-upgrade-'));
  try {
    await fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('upgrading a store of migration 7', () => {
  it('SQLite keeps the state history in its order and the funnel flags', () => inTempDir(async (dir) => expectUpgraded(await sqliteStoreAt(dir, 7, BEFORE))));

  it.skipIf(postgres.skip !== undefined)('PostgreSQL turns funnel_done into a BOOLEAN and numbers the state history', async () => {
    await expectUpgraded(await postgresStoreAt(7, BEFORE));
  });
});

describe('upgrading a store of migration 10', () => {
  const rows = [
    "INSERT INTO sessions (id, campaign_id, created_at, last_seen_at, user_agent, ip) VALUES ('s1', '1', 1000, 1000, 'x', '1'), ('s2', '1', 2000, 2000, 'x', '1')",
    "INSERT INTO dashboard_sources (session_id, aff_id, device) VALUES ('s1', 'A1', 'desktop'), ('s2', 'A1', 'mobile')",
  ];
  const expectCreationTimes = async (store: Store) => {
    await store.migrate();
    const found = await store.sql().all<{ session_id: string; created_at: number | string }>('SELECT session_id, created_at FROM dashboard_sources ORDER BY session_id');
    expect(found.map((row) => [row.session_id, Number(row.created_at)])).toEqual([['s1', 1000], ['s2', 2000]]);
    await store.close();
  };

  it("SQLite gives each affiliate row its session's creation time", () => inTempDir(async (dir) => expectCreationTimes(await sqliteStoreAt(dir, 10, rows))));

  it.skipIf(postgres.skip !== undefined)("PostgreSQL gives each affiliate row its session's creation time", async () => {
    await expectCreationTimes(await postgresStoreAt(10, rows));
  });
});

describe('upgrading a store of migration 12', () => {
  // One event with a two-byte character: the byte count is of the UTF-8 text, as ingest counts it.
  const payloads = ['{"type":"page","url":"https://offer.example/?city=Zürich"}', '{"type":"exit"}'];
  const rows = [
    "INSERT INTO sessions (id, campaign_id, created_at, last_seen_at, user_agent, ip) VALUES ('s1', '1', 1000, 1000, 'x', '1'), ('s2', '1', 2000, 2000, 'x', '1')",
    ...payloads.map((payload, i) => `INSERT INTO events (id, session_id, type, received_at, payload) VALUES ('e${i}', 's1', 'page', 1000, '${payload}')`),
  ];
  const expectCounted = async (store: Store) => {
    await store.migrate();
    const bytes = payloads.reduce((sum, payload) => sum + Buffer.byteLength(payload), 0);
    expect(await store.getSession('s1')).toMatchObject({ eventCount: 2, eventBytes: bytes });
    expect(await store.getSession('s2')).toMatchObject({ eventCount: 0, eventBytes: 0 });
    await store.close();
  };

  it("SQLite counts each session's stored events and their bytes", () => inTempDir(async (dir) => expectCounted(await sqliteStoreAt(dir, 12, rows))));

  it.skipIf(postgres.skip !== undefined)("PostgreSQL counts each session's stored events and their bytes", async () => {
    await expectCounted(await postgresStoreAt(12, rows));
  });
});
