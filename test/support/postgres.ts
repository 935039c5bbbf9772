/**
 * The PostgreSQL server tests use: `FUNNELBEACON_TEST_POSTGRES_URL`, else the local default. With
 * the variable set the server must answer; without it, suites skip when nothing answers there.
 * Each test run works in fresh schemas and drops them afterwards.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';

const DEFAULT_POSTGRES_URL = 'postgres://postgres@127.0.0.1:5432/test';

export interface TestPostgres {
  url: string;
  /** Why PostgreSQL tests are skipped, or undefined when they run. */
  skip: string | undefined;
  /** A new schema name for this run (dropped by `dropSchemas`). */
  newSchema(): string;
  /** `url` with `?schema=` set to a new schema. */
  newSchemaUrl(): string;
  dropSchemas(): Promise<void>;
}

export async function testPostgres(): Promise<TestPostgres> {
  const explicitUrl = process.env.FUNNELBEACON_TEST_POSTGRES_URL;
  const url = explicitUrl || DEFAULT_POSTGRES_URL;
  let skip: string | undefined;
  if (!explicitUrl) {
    const probe = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
    try {
      await probe.connect();
    } catch (error) {
      skip = `no PostgreSQL at ${url} (${(error as Error).message}); set FUNNELBEACON_TEST_POSTGRES_URL to run it`;
    } finally {
      await probe.end().catch(() => {});
    }
  }
  const runId = randomBytes(4).toString('hex');
  const schemas: string[] = [];
  const newSchema = () => {
    const schema = `fb_test_${runId}_${schemas.length}`;
    schemas.push(schema);
    return schema;
  };
  return {
    url,
    skip,
    newSchema,
    newSchemaUrl: () => `${url}${url.includes('?') ? '&' : '?'}schema=${newSchema()}`,
    async dropSchemas() {
      if (schemas.length === 0) return;
      const admin = new pg.Client({ connectionString: url });
      await admin.connect();
      try {
        for (const schema of schemas.splice(0)) await admin.query(`DROP SCHEMA IF EXISTS ${pg.escapeIdentifier(schema)} CASCADE`);
      } finally {
        await admin.end();
      }
    },
  };
}
