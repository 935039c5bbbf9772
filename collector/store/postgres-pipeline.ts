/**
 * @module postgres-pipeline
 * A transaction on a pipelined connection (`pipeline: true`), as the outbox worker's rounds
 * (postgres-relay-round.ts) run it: BEGIN travels with the body's first statements, and the body's last writes
 * with COMMIT, so a transaction costs as few round trips as its reads need. Here once: the COMMIT
 * that answers ROLLBACK (a statement of the batch failed) is an error, a failed transaction is
 * rolled back while it is still open, and a connection whose COMMIT or ROLLBACK failed is not
 * given back to the pool.
 */
import type pg from 'pg';

export interface PipelineContext {
  /** Connections with `pipeline: true`. */
  pool: pg.Pool;
  roundTrip: () => void;
  committed: () => void;
}

/**
 * What a body hands back: the writes it sent last (pipelined with COMMIT), and what to make of
 * their answers once committed.
 */
export interface PipelineEnd<T> {
  writes: Promise<pg.QueryResult>[];
  result(answers: pg.QueryResult[]): T;
}

/**
 * Runs `body` between BEGIN and COMMIT on one pipelined connection. `begin` is BEGIN's answer:
 * the body settles it with its first statements (one round trip) and counts its own round trips.
 */
export async function pipelinedTransaction<T>(
  context: PipelineContext,
  what: string,
  body: (client: pg.PoolClient, begin: Promise<pg.QueryResult>) => Promise<PipelineEnd<T>>,
): Promise<T> {
  const client = await context.pool.connect();
  let broken = false;
  let open = true;
  try {
    const end = await body(client, client.query('BEGIN'));
    const settled = await Promise.allSettled([...end.writes, client.query('COMMIT')]);
    context.roundTrip();
    open = false;
    const committed = settled.at(-1)!;
    if (committed.status === 'rejected') {
      broken = true;
      throw committed.reason;
    }
    const failed = settled.find((outcome): outcome is PromiseRejectedResult => outcome.status === 'rejected');
    if (failed) throw failed.reason;
    if (committed.value.command !== 'COMMIT') throw new Error(`${what} rolled back at COMMIT`);
    context.committed();
    return end.result(settled.slice(0, -1).map((outcome) => (outcome as PromiseFulfilledResult<pg.QueryResult>).value));
  } catch (error) {
    if (open) {
      try {
        await client.query('ROLLBACK');
        context.roundTrip();
      } catch {
        broken = true;
      }
    }
    throw error;
  } finally {
    client.release(broken);
  }
}

/** Every statement's answer, or the first failure (the others are settled, so none is left unhandled). */
export async function settle(queries: Promise<pg.QueryResult>[]): Promise<pg.QueryResult[]> {
  const settled = await Promise.allSettled(queries);
  const failed = settled.find((outcome): outcome is PromiseRejectedResult => outcome.status === 'rejected');
  if (failed) throw failed.reason;
  return settled.map((outcome) => (outcome as PromiseFulfilledResult<pg.QueryResult>).value);
}
