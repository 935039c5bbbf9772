/**
 * @module rollup
 * The overview's read model: {@link Figures} per hour and per source value, in
 * `dashboard_rollup`. Triggers on sessions, clicks, emissions and recovery facts mark the hours a write touched
 * (`dashboard_dirty`); {@link refreshRollup} recomputes just those hours, newest first, within a
 * time budget. Reading a 30-day overview then sums about 720 small rows, however many sessions
 * and events the store holds.
 */
import type { SqlAccess } from '../store/store.js';
import { PAGE_NAMES, type PageName } from '../wire-schema.js';
import { addFigures, emptyFigures, packFigures, unpackFigures, type Figures } from './figures.js';
import { SOURCE_DIMENSIONS, sourcesOf, type SourceDimension } from './sources.js';

export const HOUR_MS = 3_600_000;
/** The dimension of the totals row. */
export const TOTAL = '';
const DIMENSIONS = [TOTAL, ...SOURCE_DIMENSIONS] as const;
const PAGE_SET = new Set<string>(PAGE_NAMES);
const UPSELLS: readonly PageName[] = ['upsell1', 'upsell2', 'upsell3', 'upsell4'];

type Row = Record<string, unknown>;


function pagesOf(text: unknown): Set<PageName> {
  return new Set((typeof text === 'string' ? text.split(',') : []).filter((page): page is PageName => PAGE_SET.has(page)));
}

function json<T>(value: unknown): T | undefined {
  if (typeof value !== 'string') return (value ?? undefined) as T | undefined;
  try {
    return JSON.parse(value) as T;
  } catch {
    return undefined;
  }
}

/**
 * The distinct values of one source dimension an hour keeps apart; later ones count together as
 * {@link OTHER}. Source values come from the visitor's URL (`affId`, `c1`, `utm_campaign`, ...), so
 * without a bound anyone could make one hour's figures (and every read of a period) as large as
 * they like. A real funnel's hour has far fewer affiliates and campaigns; a click id passed as a
 * sub-id keeps its first values of the hour apart.
 */
export const MAX_VALUES_PER_HOUR = 200;
export const OTHER = '(other)';

/** Per (dimension, value): the figures of one hour. */
class Accumulator {
  readonly #cells = new Map<string, Figures>();
  readonly #distinct = new Map<string, number>();

  add(sources: Record<SourceDimension, string>, contribution: (figures: Figures) => void): void {
    for (const dim of DIMENSIONS) {
      let value = dim === TOTAL ? '' : sources[dim];
      let figures = this.#cells.get(`${dim}\u0000${value}`);
      if (!figures) {
        const distinct = this.#distinct.get(dim) ?? 0;
        if (distinct >= MAX_VALUES_PER_HOUR) value = OTHER;
        else this.#distinct.set(dim, distinct + 1);
        const key = `${dim}\u0000${value}`;
        figures = this.#cells.get(key);
        if (!figures) this.#cells.set(key, (figures = emptyFigures()));
      }
      contribution(figures);
    }
  }

  rows(): { dim: string; value: string; figures: string }[] {
    return [...this.#cells].map(([key, figures]) => {
      const [dim, value] = key.split('\u0000') as [string, string];
      return { dim, value, figures: packFigures(figures) };
    });
  }
}

/** Visitors read by one statement of a recompute. */
const VISITORS_PER_READ = 1_000;

/**
 * Adds a page of an hour's visitors to its figures, and files each one's affiliate for the session
 * search (one multi-row statement, not a round trip each).
 */
async function addVisitors(sql: SqlAccess, cells: Accumulator, visitors: Row[]): Promise<void> {
  const affiliates: unknown[][] = [];
  for (const row of visitors) {
    const sources = sourcesOf(row.landing_url as string | null, row.user_agent as string | null);
    const pages = pagesOf(row.pages);
    const lead = json<Record<string, string>>(row.lead) ?? {};
    const isLead = Boolean(lead.emailAddress || lead.phoneNumber);
    const ordered = Number(row.orders) > 0;
    cells.add(sources, (f) => {
      f.visitors++;
      for (const page of pages) f.steps[page]++;
      if (isLead) f.leads++;
      if (ordered) f.converted++;
    });
    affiliates.push([row.id, sources.affId === '(none)' ? null : sources.affId, sources.device, Number(row.created_at)]);
  }
  if (affiliates.length === 0) return;
  await insertRows(
    sql,
    'INSERT INTO dashboard_sources (session_id, aff_id, device, created_at) VALUES',
    'ON CONFLICT (session_id) DO UPDATE SET aff_id = excluded.aff_id, device = excluded.device, created_at = excluded.created_at',
    affiliates,
  );
}

/** Recomputes one hour from the sessions, clicks and recovery facts (session_outcomes) of that hour. */
async function recomputeHour(sql: SqlAccess, bucket: number): Promise<void> {
  const from = bucket * HOUR_MS;
  const to = from + HOUR_MS;
  const cells = new Accumulator();

  // Visitors of the hour: their steps, lead, and whether they ended in an order. A buyer's return
  // through a recovery link (a session that recovers another) is no new visitor: the abandoned
  // session counted them, and its cart's figures count the return.
  // Read a page at a time in (created_at, id) order, so that an hour of any number of visitors
  // never sits in memory whole.
  let after: [number, string] = [from - 1, ''];
  for (;;) {
    const visitors = await sql.all<Row>(
      `SELECT s.id, s.created_at, s.landing_url, s.user_agent, s.lead,
              (SELECT ${sql.dialect.commaList('c.page')} FROM session_clicks c WHERE c.session_id = s.id) AS pages,
              (SELECT COUNT(*) FROM session_outcomes o WHERE o.session_id = s.id AND o.order_at IS NOT NULL) AS orders
         FROM sessions s WHERE s.created_at >= ? AND s.created_at < ? AND (s.created_at, s.id) > (CAST(? AS BIGINT), CAST(? AS TEXT))
          AND NOT s.is_bot AND s.recovers_session_id IS NULL
        ORDER BY s.created_at, s.id LIMIT ?`,
      [from, to, after[0], after[1], VISITORS_PER_READ],
    );
    await addVisitors(sql, cells, visitors);
    if (visitors.length < VISITORS_PER_READ) break;
    const last = visitors.at(-1)!;
    after = [Number(last.created_at), String(last.id)];
  }

  // Carts abandoned in the hour (their CART delivered), and what became of them: the recovery
  // facts of session_outcomes, the same rows `funnelbeacon report` reads.
  const carts = await sql.all<Row>(
    `SELECT o.cart_cents, o.clicks, o.order_at, o.order_cents, o.recovered, o.recovered_by_link, s.landing_url, s.user_agent
       FROM session_outcomes o LEFT JOIN sessions s ON s.id = o.session_id
      WHERE o.cart_at >= ? AND o.cart_at < ?`,
    [from, to],
  );
  for (const row of carts) {
    const recovered = Number(row.recovered) === 1;
    const byLink = Number(row.recovered_by_link) === 1;
    const orderCents = Number(row.order_cents ?? 0);
    cells.add(sourcesOf(row.landing_url as string | null, row.user_agent as string | null), (f) => {
      f.carts++;
      f.cartCents += Number(row.cart_cents ?? 0);
      f.recoveryClicks += Number(row.clicks ?? 0);
      if (recovered) {
        f.recovered++;
        f.recoveredCents += orderCents;
      }
      if (byLink) {
        f.recoveredByLink++;
        f.recoveredByLinkCents += orderCents;
      }
      if (row.order_at === null || row.order_at === undefined) f.unrecovered++;
    });
  }

  // Orders delivered in the hour; the ORDER's items tell whether an upsell was bought. The pages of
  // a recovered cart's order include those its buyer saw after returning through the link.
  const orders = await sql.all<Row>(
    `SELECT o.order_cents, s.landing_url, s.user_agent,
            (SELECT e.payload FROM emissions e WHERE e.session_id = o.session_id AND e.kind = 'order') AS payload,
            (SELECT ${sql.dialect.commaList('c.page')} FROM session_clicks c WHERE c.session_id = o.session_id
                OR c.session_id IN (SELECT r.id FROM sessions r WHERE r.recovers_session_id = o.session_id)) AS pages
       FROM session_outcomes o LEFT JOIN sessions s ON s.id = o.session_id
      WHERE o.order_at >= ? AND o.order_at < ?`,
    [from, to],
  );
  for (const row of orders) {
    const order = json<{ items?: unknown[] }>(row.payload) ?? {};
    const pages = pagesOf(row.pages);
    const sawUpsell = UPSELLS.some((page) => pages.has(page));
    cells.add(sourcesOf(row.landing_url as string | null, row.user_agent as string | null), (f) => {
      f.orders++;
      f.orderCents += Number(row.order_cents ?? 0);
      if (sawUpsell) {
        f.upsellSeen++;
        if ((order.items?.length ?? 0) > 1) f.upsellTaken++;
      }
    });
  }

  await sql.run(`DELETE FROM dashboard_rollup WHERE dim IN (${DIMENSIONS.map(() => '?').join(', ')}) AND bucket = ?`, [...DIMENSIONS, bucket]);
  await insertRows(
    sql,
    'INSERT INTO dashboard_rollup (dim, bucket, value, figures) VALUES',
    '',
    cells.rows().map((row) => [row.dim, bucket, row.value, row.figures]),
  );
}

/** Rows per statement: well under both engines' limits on parameters (SQLite 32,766; PostgreSQL 65,535). */
const ROWS_PER_STATEMENT = 500;

/** Inserts `rows` (each the same number of values) with as few statements as the parameter limits allow. */
async function insertRows(sql: SqlAccess, head: string, tail: string, rows: readonly unknown[][]): Promise<void> {
  for (let at = 0; at < rows.length; at += ROWS_PER_STATEMENT) {
    const chunk = rows.slice(at, at + ROWS_PER_STATEMENT);
    const tuple = `(${chunk[0]!.map(() => '?').join(', ')})`;
    await sql.run(`${head} ${chunk.map(() => tuple).join(', ')} ${tail}`, chunk.flat());
  }
}

export interface RefreshResult {
  /** Hours recomputed by this call. */
  hours: number;
  /** Hours still marked after the budget ran out (their figures are a little behind). */
  pending: number;
}

/**
 * Recomputes the marked hours, newest first, a few per transaction, until none is left or
 * `budgetMs` has passed. Several collectors may refresh at once: on PostgreSQL each takes
 * different hours (SKIP LOCKED); a write landing during a recompute marks its hour again.
 */
export async function refreshRollup(sql: SqlAccess, { budgetMs = 2_000, batch = 8 } = {}): Promise<RefreshResult> {
  // The budget bounds the work's own duration (a dashboard request waits on it), so it is read
  // from the process's monotonic timer, not from the collector's clock of funnel time.
  const started = performance.now();
  const elapsed = () => performance.now() - started;
  let hours = 0;
  for (;;) {
    const done = await sql.transaction(async (tx) => {
      // The newest dirty hours, taken (on PostgreSQL, those no other collector holds).
      const rows = await tx.all<{ bucket: number }>(
        `DELETE FROM dashboard_dirty WHERE bucket IN
           (SELECT bucket FROM dashboard_dirty ORDER BY bucket DESC LIMIT ?${tx.dialect.forUpdateSkipLocked()}) RETURNING bucket`,
        [batch],
      );
      for (const { bucket } of rows) await recomputeHour(tx, Number(bucket));
      return rows.length;
    });
    hours += done;
    if (done < batch || elapsed() >= budgetMs) break;
  }
  const [left] = await sql.all<{ n: number }>('SELECT COUNT(*) AS n FROM dashboard_dirty');
  return { hours, pending: Number(left?.n ?? 0) };
}

/**
 * The hours a period [from, to) counts, as [first, end) bucket numbers: every hour that starts in
 * it. Figures are kept per hour, so a boundary that is not on the hour cannot split one: the hour
 * that straddles it counts wholly in the period where it starts (10:30-11:30 counts the hour
 * 11:00-12:00; 10:00-11:00 falls to the period before). Both ends are rounded the same way (up),
 * so a period and the one just before it never share an hour, and a period that ends now still
 * counts the hour in progress.
 */
export function bucketRange(from: number, to: number): [number, number] {
  return [Math.ceil(from / HOUR_MS), Math.ceil(to / HOUR_MS)];
}

export interface LostOptions {
  now: number;
  /** Lifetime of a recovery link: an hour's unrecovered carts are lost once their links expired. */
  linkTtlMs: number;
}

/** The unrecovered carts of an hour's figures that count as lost as of `now`. */
function lostOf(bucket: number, figures: Partial<Figures>, { now, linkTtlMs }: LostOptions): number {
  return (bucket + 1) * HOUR_MS + linkTtlMs <= now ? Number(figures.unrecovered ?? 0) : 0;
}

/** Totals of a period, plus carts lost (unrecovered after their link expired, as of `now`). */
export async function readTotals(sql: SqlAccess, from: number, to: number, lostAsOf: LostOptions): Promise<Figures & { lost: number }> {
  const [first, end] = bucketRange(from, to);
  const rows = await sql.all<Row>('SELECT bucket, figures FROM dashboard_rollup WHERE dim = ? AND bucket >= ? AND bucket < ?', [TOTAL, first, end]);
  const total = emptyFigures();
  let lost = 0;
  for (const row of rows) {
    const figures = unpackFigures(String(row.figures));
    addFigures(total, figures);
    lost += lostOf(Number(row.bucket), figures, lostAsOf);
  }
  return { ...total, lost };
}

/** Figures of a period per value of one source dimension (lost carts included), most visitors first. */
export async function readBreakdown(
  sql: SqlAccess,
  dim: SourceDimension,
  from: number,
  to: number,
  limit: number,
  lostAsOf: LostOptions = { now: 0, linkTtlMs: 0 },
): Promise<{ value: string; figures: Figures & { lost: number } }[]> {
  const [first, end] = bucketRange(from, to);
  const rows = await sql.all<Row>('SELECT bucket, value, figures FROM dashboard_rollup WHERE dim = ? AND bucket >= ? AND bucket < ?', [dim, first, end]);
  const byValue = new Map<string, Figures & { lost: number }>();
  for (const row of rows) {
    const value = String(row.value);
    let figures = byValue.get(value);
    if (!figures) byValue.set(value, (figures = { ...emptyFigures(), lost: 0 }));
    const hour = unpackFigures(String(row.figures));
    addFigures(figures, hour);
    figures.lost += lostOf(Number(row.bucket), hour, lostAsOf);
  }
  return [...byValue]
    .map(([value, figures]) => ({ value, figures }))
    .sort((a, b) => b.figures.visitors - a.figures.visitors || b.figures.orderCents - a.figures.orderCents || a.value.localeCompare(b.value))
    .slice(0, limit);
}
