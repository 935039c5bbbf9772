/**
 * @module dialect
 * What really differs between SQLite's and PostgreSQL's spelling of the store's statements, and
 * nothing else: every statement is written once in `plans/`, with `?` placeholders, and filled
 * in with one of these two dialects.
 *
 * Both engines share the rest: `ON CONFLICT … DO NOTHING / DO UPDATE … WHERE`, `RETURNING`,
 * `TRUE`/`FALSE` and `NOT column` in SQL text, `CAST(? AS TEXT)` and `CAST(? AS BIGINT)`, row
 * values, `excluded.column`.
 */
export interface Dialect {
  readonly name: 'sqlite' | 'postgres';
  /** The statement with this dialect's placeholders (`?` is SQLite's; PostgreSQL numbers them). */
  placeholders(sql: string): string;
  /** A boolean as a parameter value (better-sqlite3 binds no JS booleans; SQLite stores 0/1). */
  bool(value: boolean): number | boolean;
  /** `expression IN (a list given as one parameter)`, and that parameter's value. */
  inList(expression: string, type: 'text' | 'bigint'): string;
  /** `NOT IN` of the same. */
  notInList(expression: string, type: 'text' | 'bigint'): string;
  list(values: readonly (string | number)[]): unknown;
  /**
   * Appended to an INSERT whose new id {@link Exec.insert} answers: PostgreSQL returns it,
   * better-sqlite3 reports it without the cost of `RETURNING`.
   */
  returningId: '' | ' RETURNING id';
  /** Scalar maximum of two values. */
  greatest: 'MAX' | 'GREATEST';
  /** A key of a JSON object held in a TEXT column, as text (the form the expression index uses). */
  jsonText(column: string, key: string): string;
  /** An aggregate joining a group's values with commas. */
  commaList(column: string): string;
  /**
   * Row locks. SQLite has one writer (a transaction holds the whole database), so it needs none;
   * PostgreSQL locks the rows a transaction will change, and skips those another holds.
   */
  forUpdate: string;
  forUpdateSkipLocked(table?: string): string;
  /** A transaction-scoped lock on (namespace, key); undefined where the transaction already holds every lock. */
  advisoryLock: string | undefined;
  /**
   * The column that orders a table's rows by insertion where none is declared: SQLite's implicit
   * `rowid`, PostgreSQL's `seq BIGSERIAL` (only `events` relies on it; see schema-parity.test.ts).
   */
  eventOrder: 'rowid' | 'seq';
}

export const sqliteDialect: Dialect = Object.freeze({
  name: 'sqlite',
  placeholders: (sql: string) => sql,
  bool: (value: boolean) => (value ? 1 : 0),
  inList: (expression: string) => `${expression} IN (SELECT value FROM json_each(?))`,
  notInList: (expression: string) => `${expression} NOT IN (SELECT value FROM json_each(?))`,
  list: (values: readonly (string | number)[]) => JSON.stringify(values),
  returningId: '',
  greatest: 'MAX',
  jsonText: (column: string, key: string) => `json_extract(${column}, '$.${key}')`,
  commaList: (column: string) => `group_concat(${column})`,
  forUpdate: '',
  forUpdateSkipLocked: () => '',
  advisoryLock: undefined,
  eventOrder: 'rowid',
} as const);

export const postgresDialect: Dialect = Object.freeze({
  name: 'postgres',
  placeholders: (sql: string) => {
    let i = 0;
    return sql.replace(/\?/g, () => `$${++i}`);
  },
  bool: (value: boolean) => value,
  inList: (expression: string, type: 'text' | 'bigint') => `${expression} = ANY(?::${type}[])`,
  notInList: (expression: string, type: 'text' | 'bigint') => `${expression} <> ALL(?::${type}[])`,
  list: (values: readonly (string | number)[]) => [...values],
  returningId: ' RETURNING id',
  greatest: 'GREATEST',
  jsonText: (column: string, key: string) => `${column}::json ->> '${key}'`,
  commaList: (column: string) => `string_agg(${column}, ',')`,
  forUpdate: ' FOR UPDATE',
  forUpdateSkipLocked: (table?: string) => (table ? ` FOR UPDATE OF ${table} SKIP LOCKED` : ' FOR UPDATE SKIP LOCKED'),
  advisoryLock: 'SELECT pg_advisory_xact_lock(?, hashtext(?))',
  eventOrder: 'seq',
} as const);
