/**
 * `funnelbeacon sync --since`: the lifecycle backfill through the real store and outbox against
 * the strict Konnektive and ActiveCampaign doubles, on a virtual clock (the account in New York
 * time, its history put into Konnektive one day at a time):
 * - a month of history is read one day per line (not a terminal), every sale is delivered once,
 *   and a second run sends nothing (skipping the recorded days; and, with the cursor gone, the
 *   detector's snapshots still find nothing new);
 * - a walk stopped after some days resumes at the day after the last one recorded;
 * - a 5,000-record backfill stays within 5 requests in any second and a funnel ORDER made during
 *   it goes through within 10 seconds of virtual time (the ORDER never queues behind the backfill);
 * - on a terminal, one progress bar instead;
 * - `--dry-run` prints the events per day and sends and writes nothing;
 * - bad arguments and a configuration without the lifecycle sync exit 2 changing nothing.
 */
import { describe, expect, it } from 'vitest';
import { parseConfig, type Config } from '../collector/config.js';
import { parseSyncArgs, runSync, type SyncArgs } from '../collector/cli/sync.js';
import { BACKFILL_CURSOR_KEY } from '../collector/lifecycle/backfill.js';
import { activeCampaignEmitter } from '../collector/emit/activecampaign-emitter.js';
import { openStore } from '../collector/store/open-store.js';
import { sampleOrder } from './support/emissions.js';
import type { ActiveCampaignDouble } from './doubles/activecampaign-double.js';
import type { KonnektiveDouble } from './doubles/konnektive-double.js';
import { emissionEnv, withUpstreamDoubles } from './support/upstream-doubles.js';
import type { VirtualClock } from './support/virtual-clock.js';

const DAY = 86_400_000;
const NEW_YORK_WINTER = -300;

describe('funnelbeacon sync (lifecycle backfill)', { timeout: 1_200_000 }, () => {
  let clock: VirtualClock;
  let crm: KonnektiveDouble;
  let ac: ActiveCampaignDouble;

  withUpstreamDoubles(
    (doubles) => ({ clock, crm, ac } = doubles),
    () => undefined,
  );

  function config(over: Record<string, string> = {}): Config {
    const result = parseConfig(emissionEnv({ crm, ac }, 'activecampaign', { LIFECYCLE_SYNC: 'on', KONNEKTIVE_TIMEZONE: 'America/New_York', ...over }));
    if (!result.ok) throw new Error(result.problems.join('; '));
    return result.config;
  }

  /** `perDay` first sales on each of `days` days, the oldest `days` days ago; returns the first day. */
  function history(days: number, perDay: number): string {
    crm.setUtcOffset(NEW_YORK_WINTER);
    const first = new Date(clock.now() - 5 * 3_600_000).toISOString().slice(0, 10);
    for (let d = 0; d < days; d++) {
      for (let i = 0; i < perDay; i++) {
        const n = d * perDay + i;
        crm.putTransaction({ transactionId: `T${n}`, orderId: `K${n}`, customerId: `C${n}`, txnType: 'SALE', responseType: 'SUCCESS', totalAmount: '39.95', currency: 'USD', productId: '41', productName: 'Bottle', emailAddress: `buyer${n}@example.com` });
      }
      clock.advance(DAY);
    }
    return first;
  }

  function output() {
    const lines: string[] = [];
    let text = '';
    return {
      lines,
      out: {
        isTTY: false,
        write(chunk: string) {
          text += chunk;
          const parts = text.split('\n');
          text = parts.pop() ?? '';
          lines.push(...parts);
        },
      },
      errors: [] as string[],
    };
  }

  async function sync(cfg: Config, args: SyncArgs, signal?: AbortSignal, onLine?: (line: string) => void) {
    const o = output();
    const write = o.out.write.bind(o.out);
    o.out.write = (chunk: string) => {
      const before = o.lines.length;
      write(chunk);
      for (const line of o.lines.slice(before)) onLine?.(line);
    };
    const code = await runSync(cfg, args, {
      out: o.out,
      err: (line) => o.errors.push(line),
      clock,
      fetch: clock.fetch,
      ...(signal ? { signal } : {}),
      worker: { pollMs: 10, leaseMs: 60_000, backoff: { baseMs: 10, capMs: 100, maxAttempts: 8 } },
      waitEveryMs: 200,
    });
    return { code, lines: o.lines, errors: o.errors };
  }

  const dayLines = (lines: string[]) => lines.filter((line) => /^\d{4}-\d{2}-\d{2}\s/.test(line));
  const queries = () => crm.calls.filter((call) => ['/transactions/query/', '/purchase/query/', '/order/query/'].includes(call.path));

  async function tableCounts(cfg: Config): Promise<Record<string, number>> {
    const store = await openStore(cfg.databaseUrl);
    try {
      const counts: Record<string, number> = {};
      for (const table of ['outbox', 'lifecycle_events', 'lifecycle_snapshots', 'meta', 'delivery_attempts']) {
        const [row] = await store.sql().all<{ n: number }>(`SELECT COUNT(*) AS n FROM ${table}`);
        counts[table] = Number(row?.n);
      }
      return counts;
    } finally {
      await store.close();
    }
  }

  it('reads 30 days of 200 orders a day one line per day, delivers each sale once within the rate limit, and a second run sends nothing', async () => {
    const since = history(30, 200);
    const cfg = config();
    const first = await sync(cfg, { since, until: undefined, dryRun: false });
    expect(first.errors).toEqual([]);
    expect(first.code).toBe(0);
    // 30 days of history and today (nothing yet): one line each.
    const lines = dayLines(first.lines);
    expect(lines).toHaveLength(31);
    expect(lines[0]).toMatch(new RegExp(`^${since}  200 records  200 events  200 calls queued$`));
    expect(first.lines.at(-1)).toBe('backfill done: 31 days read, 6000 records, 6000 events; 6000 delivered, 0 dead-lettered');
    expect(ac.orders.size).toBe(6000);
    expect(new Set([...ac.orders.values()].map((o) => o.externalid)).size).toBe(6000);
    expect(ac.stats.rateLimited).toBe(0);
    expect(ac.maxRequestsInAnyWindow()).toBeLessThanOrEqual(5);

    // Again: the recorded days are not read again, and nothing is sent.
    const sent = ac.requests.length;
    const read = queries().length;
    const second = await sync(cfg, { since, until: undefined, dryRun: false });
    expect(second.code).toBe(0);
    expect(ac.requests.length).toBe(sent);
    expect(dayLines(second.lines)).toHaveLength(1); // today only: never marked, always read
    expect(second.lines.at(-1)).toBe('backfill done: 1 day read, 0 records, 0 events; 0 delivered, 0 dead-lettered');

    // Without the cursor every day is read again, and the detector's snapshots still send nothing.
    const store = await openStore(cfg.databaseUrl);
    await store.sql().run('DELETE FROM meta WHERE key = ?', [BACKFILL_CURSOR_KEY]);
    await store.close();
    const third = await sync(cfg, { since, until: undefined, dryRun: false });
    expect(third.code).toBe(0);
    expect(queries().length).toBeGreaterThan(read);
    expect(dayLines(third.lines)).toHaveLength(31);
    expect(third.lines.at(-1)).toBe('backfill done: 31 days read, 6000 records, 0 events; 0 delivered, 0 dead-lettered');
    expect(ac.requests.length).toBe(sent);
  });

  it('stopped after some days, resumes at the day after the last one recorded', async () => {
    const since = history(6, 3);
    const cfg = config();
    const controller = new AbortController();
    let seen = 0;
    const stopped = await sync(cfg, { since, until: undefined, dryRun: false }, controller.signal, (line) => {
      if (/^\d{4}-\d{2}-\d{2}\s/.test(line) && ++seen === 2) controller.abort();
    });
    expect(stopped.code).toBe(130);
    expect(dayLines(stopped.lines)).toHaveLength(2);
    expect(stopped.lines.at(-1)).toMatch(/^stopped: run the same command to resume/);

    const resumed = await sync(cfg, { since, until: undefined, dryRun: false });
    expect(resumed.code).toBe(0);
    const days = dayLines(resumed.lines).map((line) => line.slice(0, 10));
    expect(days).toHaveLength(5); // days 3 to 6, and today
    expect(days[0]! > dayLines(stopped.lines)[1]!.slice(0, 10)).toBe(true);
    expect(resumed.lines).toContain(`resumed after ${dayLines(stopped.lines)[1]!.slice(0, 10)}: 2 days already recorded`);
    // Every sale once: what the stopped run queued was delivered by the resumed run's worker.
    expect(ac.orders.size).toBe(18);
    expect(ac.trackingLogs.length).toBe(0);
  });

  it('a 5,000-record backfill stays within 5 requests in any second, and a funnel ORDER made meanwhile goes through within 10 seconds', async () => {
    const since = history(5, 1000);
    const cfg = config();
    const controller = new AbortController();
    const running = sync(cfg, { since, until: undefined, dryRun: false }, controller.signal);
    // Until the backfill's deliveries are flowing.
    for (let i = 0; i < 2000 && ac.requests.length < 100; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(ac.requests.length).toBeGreaterThanOrEqual(100);
    // A live collector's ORDER, on the same store and account: through the same rate gate.
    const store = await openStore(cfg.databaseUrl);
    const funnel = activeCampaignEmitter({ config: cfg, store, clock, fetch: clock.fetch });
    const asked = clock.now();
    const sent = await funnel.emit(
      sampleOrder({ sessionId: 's-funnel', cartId: 'cart-funnel', orderId: 'FUNNEL-1', email: 'funnel@example.com', customerExternalId: 'F1', totalCents: 7990, orderedAt: new Date(asked).toISOString() }),
      { mayAlreadyExist: false, record: () => undefined },
    );
    const through = clock.now();
    expect(sent.ok).toBe(true);
    expect(through - asked).toBeLessThanOrEqual(10_000);
    // The backfill was far from done: thousands of its deliveries were still waiting behind the ORDER.
    const [waiting] = await store.sql().all<{ n: number }>("SELECT COUNT(*) AS n FROM outbox WHERE kind = 'lifecycle.deliver' AND state <> 'done'");
    expect(Number(waiting?.n)).toBeGreaterThan(4000);
    await store.close();
    const before = ac.requests.length;
    for (let i = 0; i < 2000 && ac.requests.length < before + 50; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    controller.abort();
    const stopped = await running;
    expect(stopped.code).toBe(130);
    expect(dayLines(stopped.lines)).toHaveLength(6);
    expect([...ac.orders.values()].some((order) => order.externalid === 'FUNNEL-1')).toBe(true);
    expect(ac.stats.rateLimited).toBe(0);
    expect(ac.maxRequestsInAnyWindow()).toBeLessThanOrEqual(5);
  });

  it('on a terminal draws one progress bar (days, records, events, calls queued, time left) instead of a line per day', async () => {
    const since = history(3, 2);
    let text = '';
    const code = await runSync(config(), { since, until: undefined, dryRun: false }, {
      out: { isTTY: true, write: (chunk) => void (text += chunk) },
      err: (line) => void (text += `ERR ${line}\n`),
      clock,
      fetch: clock.fetch,
      waitEveryMs: 200,
    });
    expect(code).toBe(0);
    const frames = text.split('\r\x1b[2K').slice(1).map((frame) => frame.split('\n')[0]);
    expect(frames[0]).toMatch(/^\[#{6}\.{18}\] 1\/4 days  2 records  2 events  2 calls queued  ~\d+s left$/);
    expect(frames).toContain('[########################] 4/4 days  6 records  6 events  6 calls queued  read');
    expect(text).not.toMatch(new RegExp(`^${since}`, 'm'));
    expect(text.trimEnd().split('\n').at(-1)).toBe('backfill done: 4 days read, 6 records, 6 events; 6 delivered, 0 dead-lettered');
  });

  it('--dry-run prints the events per day and sends and writes nothing', async () => {
    const since = history(3, 4);
    const cfg = config();
    // A migrated store, as a collector leaves it.
    const store = await openStore(cfg.databaseUrl);
    await store.migrate();
    await store.close();
    const before = await tableCounts(cfg);
    const run = await sync(cfg, { since, until: undefined, dryRun: true });
    expect(run.errors).toEqual([]);
    expect(run.code).toBe(0);
    expect(dayLines(run.lines).slice(0, 3)).toEqual([0, 1, 2].map((d) => `${dayAfter(since, d)}  4 records  would send 4: sale_completed 4`));
    expect(run.lines.at(-1)).toBe('dry run: 4 days, 12 records, 12 events would be sent; nothing was sent or written');
    expect(ac.requests).toEqual([]);
    expect(await tableCounts(cfg)).toEqual(before);
    // No personal data in what it prints.
    expect(run.lines.join('\n')).not.toMatch(/@|buyer|39\.95/);
  });

  it('bad arguments and a configuration without the lifecycle sync get one line and exit 2, changing nothing', async () => {
    expect(parseSyncArgs({ since: '2025-1-1' })).toEqual({ ok: false, problem: 'sync: --since takes the first day to read, as YYYY-MM-DD (e.g. --since 2025-01-01), got "2025-1-1"' });
    expect(parseSyncArgs({})).toMatchObject({ ok: false, problem: expect.stringMatching(/^sync: --since takes the first day/) });
    expect(parseSyncArgs({ since: '2025-02-30' })).toMatchObject({ ok: false });
    expect(parseSyncArgs({ since: '2025-03-01', until: '2025-02-01' })).toEqual({ ok: false, problem: 'sync: --until 2025-02-01 is before --since 2025-03-01' });
    expect(parseSyncArgs({ since: '2025-03-01', until: 'yesterday' })).toMatchObject({ ok: false, problem: expect.stringMatching(/--until takes the last day/) });
    expect(parseSyncArgs({ since: '2025-03-01', until: '2025-03-02', 'dry-run': true })).toEqual({ ok: true, args: { since: '2025-03-01', until: '2025-03-02', dryRun: true } });

    const off = config({ LIFECYCLE_SYNC: 'off' });
    const run = await sync(off, { since: '2025-01-01', until: undefined, dryRun: false });
    expect(run.code).toBe(2);
    expect(run.errors).toEqual(['funnelbeacon: sync: the lifecycle sync is off: set LIFECYCLE_SYNC=on (with the Konnektive and ActiveCampaign credentials) first']);
    const future = await sync(config(), { since: '2999-01-01', until: undefined, dryRun: false });
    expect(future.code).toBe(2);
    expect(future.errors).toHaveLength(1);
    expect(queries()).toEqual([]);
    expect(ac.requests).toEqual([]);
  });
});

function dayAfter(day: string, n: number): string {
  return new Date(Date.parse(`${day}T12:00:00Z`) + n * DAY).toISOString().slice(0, 10);
}
