/**
 * @module sqlite-store
 * The embedded store: one SQLite file in WAL mode. The operations and their statements are shared
 * with PostgreSQL (sql-store.ts, plans.ts); this file runs them. better-sqlite3 is synchronous;
 * every statement runs under one {@link AsyncMutex} per database file, so that a transaction
 * spanning `await`s never interleaves with another caller's writes. Statements stay prepared.
 *
 * Durability without blocking: SQLite runs with `synchronous=NORMAL` (a commit is written to the
 * WAL but not fsynced), and writes that must survive a power cut (ingest transactions, an emission
 * marked `sending`) then fsync the WAL file on libuv's thread pool before they resolve. The
 * outcome is the same as `synchronous=FULL`, but the event loop keeps serving requests during the
 * fsync, and one fsync covers every commit written before it started. Worker bookkeeping (claims,
 * completions) skips the fsync: losing one to a power cut only means a job runs again, which the
 * outbox allows anyway.
 *
 * The file holds every buyer's lead: it, its -wal and -shm, and the directory made for it are the
 * owner's only (0600, 0700; store/owner-only.ts), tightened at open if they were made otherwise.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { systemClock, type Clock } from '../clock.js';
import { AsyncMutex } from './async-mutex.js';
import { ensureOwnerOnlyFile, makeOwnerOnlyDir, tightenFile } from './owner-only.js';
import { sqliteDialect } from './dialect.js';
import { SQLITE_PLANS } from './plans.js';
import { SQLITE_MIGRATIONS } from './sqlite-migrations.js';
import { SqlStore, type Exec } from './sql-store.js';
import type { Row } from './rows.js';
import type { StoreTx } from './store.js';

type Db = Database.Database;

/**
 * One lock per database file in this process. A transaction's operations `await` between
 * statements; a second store on the same file taking `BEGIN IMMEDIATE` meanwhile would block the
 * event loop in SQLite's busy wait, and the first could never commit. Stores of one file take
 * turns here instead (other processes wait in SQLite, which blocks only their own loop).
 */
const fileLocks = new Map<string, AsyncMutex>();

function lockOf(path: string): AsyncMutex {
  if (path === ':memory:') return new AsyncMutex();
  const key = resolve(path);
  let lock = fileLocks.get(key);
  if (!lock) fileLocks.set(key, (lock = new AsyncMutex()));
  return lock;
}

export interface SqliteStoreOptions {
  /** The time the store writes (job timestamps, state changes without one); the wall clock by default. */
  clock?: Clock;
  /** Bench only (open-store.ts): durable transactions skip their fsync. */
  unsafeSkipDurability?: boolean;
}

export class SqliteStore extends SqlStore {
  readonly kind = 'sqlite' as const;
  readonly #db: Db;
  readonly #lock: AsyncMutex;

  readonly #path: string;
  readonly #skipFsync: boolean;

  constructor(path: string, options: SqliteStoreOptions = {}) {
    super(sqliteDialect, SQLITE_PLANS, options.clock ?? systemClock, SQLITE_MIGRATIONS);
    this.#path = path;
    this.#skipFsync = options.unsafeSkipDurability === true;
    this.#lock = lockOf(path);
    if (path !== ':memory:') {
      makeOwnerOnlyDir(dirname(path));
      // Made 0600 before SQLite opens it: SQLite gives the -wal and -shm it creates the same mode.
      ensureOwnerOnlyFile(path);
      tightenFile(`${path}-wal`);
      tightenFile(`${path}-shm`);
    }
    this.#db = new Database(path);
    this.#db.pragma('journal_mode = WAL');
    this.#db.pragma('synchronous = NORMAL');
    this.#db.pragma('foreign_keys = ON');
    this.#db.pragma('busy_timeout = 5000');
    // Statement journals (a savepoint when a group is written again) and temporary tables stay in memory.
    this.#db.pragma('temp_store = MEMORY');
    // Random ids dirty many pages per commit; checkpoint the WAL every ~40 MB instead of ~4 MB.
    this.#db.pragma('wal_autocheckpoint = 10000');
    // SQLite's own page cache: 4 MiB instead of better-sqlite3's 16 MiB. Under ingest the cache
    // fills with pages of random-id indexes that the OS page cache holds anyway; at 16 MiB it was
    // the largest native allocation of the process (RSS at 500 requests/s: 113 MB, 97 MB at 4 MiB,
    // with no measurable change in CPU per request; docs/BENCHMARKS.md, Memory).
    this.#db.pragma('cache_size = -4000');
  }

  /** `file:./data/x.db` or `file::memory:` to a path better-sqlite3 understands. */
  static fromUrl(url: string, options: SqliteStoreOptions = {}): SqliteStore {
    const path = url.replace(/^file:(\/\/)?/, '');
    return new SqliteStore(path === ':memory:' || path === '' ? ':memory:' : path, options);
  }

  /**
   * Transactions: `BEGIN IMMEDIATE` under the lock, so one spanning `await`s never interleaves
   * with another caller's writes. A durable one then fsyncs the WAL (see the module comment).
   */
  protected async atomically<T>(fn: (x: Exec) => Promise<T>, durable = false): Promise<T> {
    const result = await this.#lock.run(async () => {
      this.#db.exec('BEGIN IMMEDIATE');
      try {
        // Nobody changes the schema while this transaction holds the write lock.
        this.#checkSchema();
        const value = await fn(this.#inside);
        this.#db.exec('COMMIT');
        return value;
      } catch (error) {
        if (this.#db.inTransaction) this.#db.exec('ROLLBACK');
        throw error;
      }
    });
    if (durable && !this.#skipFsync) await this.#syncWal();
    return result;
  }

  /** Statements run while the lock is held (inside a transaction). */
  readonly #inside: Exec = {
    rows: (sql, params = []) => this.#readRows(sql, params),
    run: (sql, params = []) => this.#stmt(sql).run(...params).changes,
    insert: (sql, params) => Number(this.#stmt(sql).run(...params).lastInsertRowid),
    script: (sql) => {
      // SQL text may hold DDL (a migration): the next read checks the schema version. A
      // savepoint cannot (forgetting the shapes on each one cost a new visitor's statements
      // 14 µs in bench/store-statements, where each request has its savepoint).
      if (!SAVEPOINT_SQL.test(sql)) this.#schemaMayHaveChanged = true;
      return this.#db.exec(sql);
    },
  };

  /** One statement at a time, each under the lock. */
  protected readonly db: Exec = {
    rows: (sql, params) =>
      this.#lock.run(() => {
        // Outside a transaction another process may have migrated since the last statement.
        this.#checkSchema();
        return this.#inside.rows(sql, params);
      }),
    run: (sql, params) => this.#lock.run(() => this.#inside.run(sql, params)),
    insert: (sql, params) => this.#lock.run(() => this.#inside.insert(sql, params)),
    script: (sql) => this.#lock.run(() => this.#inside.script(sql)),
  };

  #tx: StoreTx | undefined;

  /** One connection, one set of transaction operations, built once. */
  protected override txOf(x: Exec): StoreTx {
    return (this.#tx ??= this.txOperations(x));
  }

  async close(): Promise<void> {
    await this.#syncing;
    await this.#lock.run(() => {
      if (this.#db.open) this.#db.close();
    });
    const wal = await this.#wal;
    this.#wal = undefined;
    await wal?.close();
  }

  // --- durability ---------------------------------------------------------------------------

  #wal: Promise<FileHandle | undefined> | undefined;
  #syncing: Promise<void> | undefined;
  #syncAgain = false;

  /**
   * Makes every commit so far durable: fsyncs the WAL file off the event loop. Callers arriving
   * while an fsync runs share the next one (it starts after theirs committed).
   */
  async #syncWal(): Promise<void> {
    if (this.#path === ':memory:') return;
    if (this.#syncing) {
      this.#syncAgain = true;
      while (this.#syncing) await this.#syncing;
      return;
    }
    this.#syncing = (async () => {
      try {
        do {
          this.#syncAgain = false;
          this.#wal ??= open(`${this.#path}-wal`, 'r').catch(() => undefined);
          const wal = await this.#wal;
          if (wal) await wal.sync();
          else this.#wal = undefined;
        } while (this.#syncAgain);
      } finally {
        this.#syncing = undefined;
      }
    })();
    await this.#syncing;
  }

  readonly #statements = new Map<string, Database.Statement>();

  // --- rows ----------------------------------------------------------------------------------

  /**
   * Queries run in raw mode (each row an array) and their rows are built by a function made
   * for the statement's columns: better-sqlite3 builds a row object key by key, which was half
   * the cost of reading a session (24 columns: 10 µs against 3.4 µs, and 15.7 µs per read in
   * the ingest bench). The rows are the same plain objects, the same keys in the same order (the
   * last of two columns of one name wins, as before).
   */
  readonly #readers = new Map<string, Reader | null>();
  #schemaVersion: number | undefined;
  #schemaMayHaveChanged = false;
  #schemaVersionQuery: Database.Statement | undefined;

  /**
   * A `SELECT *` gets new columns when the schema changes: SQLite prepares the statement again
   * when it next runs (not when it is prepared: a connection learns of another's migration only
   * then). So the shapes are forgotten whenever the schema version moved (a migration in this
   * process or in another sharing the file), and a statement's columns are read after its first
   * run, never before.
   */
  #checkSchema(): void {
    const version = (this.#schemaVersionQuery ??= this.#db.prepare('PRAGMA schema_version').pluck()).get() as number;
    if (version !== this.#schemaVersion) {
      this.#readers.clear();
      this.#schemaVersion = version;
    }
  }

  #readRows(sql: string, params: readonly unknown[]): Row[] {
    if (this.#schemaMayHaveChanged) {
      this.#schemaMayHaveChanged = false;
      this.#checkSchema();
    }
    let reader = this.#readers.get(sql);
    if (reader === undefined) {
      const statement = this.#db.prepare(sql);
      // null: a statement that returns no data; the plain statement answers (or throws) as it always did.
      reader = statement.reader ? { statement: statement.raw(true), make: undefined } : null;
      this.#readers.set(sql, reader);
    }
    if (reader === null) return this.#stmt(sql).all(...params) as Row[];
    const rows = reader.statement.all(...params) as unknown[][] as unknown[];
    reader.make ??= rowMaker(reader.statement.columns().map((column) => column.name));
    for (let index = 0; index < rows.length; index++) rows[index] = reader.make(rows[index] as unknown[]);
    return rows as Row[];
  }

  #stmt(sql: string): Database.Statement {
    let statement = this.#statements.get(sql);
    if (!statement) {
      statement = this.#db.prepare(sql);
      this.#statements.set(sql, statement);
    }
    return statement;
  }
}

/** The transaction control `nested` runs as SQL text: never a schema change. */
const SAVEPOINT_SQL = /^(SAVEPOINT|RELEASE SAVEPOINT|ROLLBACK TO SAVEPOINT) sp\d+$/;

/** A query in raw mode and, once it has run, the function that makes its row objects. */
interface Reader {
  statement: Database.Statement;
  make: ((values: unknown[]) => Row) | undefined;
}

/** A row object of these columns from a raw row: an object literal, so every row gets one shape. */
function rowMaker(names: readonly string[]): (values: unknown[]) => Row {
  // `__proto__` in an object literal would set the prototype, not a key: such rows are built key by key.
  if (names.includes('__proto__')) {
    return (values) => {
      const row: Row = {};
      names.forEach((name, index) => Object.defineProperty(row, name, { value: values[index], enumerable: true, writable: true, configurable: true }));
      return row;
    };
  }
  const fields = names.map((name, index) => `${JSON.stringify(name)}: values[${index}]`).join(', ');
  // The column names, quoted as JSON strings.
  return new Function('values', `return { ${fields} };`) as (values: unknown[]) => Row;
}
