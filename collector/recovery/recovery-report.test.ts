/**
 * `funnelbeacon report`: the figures from the store's recovery facts, as a table and as JSON, run
 * as an operator runs it (`node dist/cli.js report`, built by `npm run build`).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { recordChange } from '../lifecycle/lifecycle-sync.js';
import { SqliteStore } from '../store/sqlite-store.js';
import { buildReport, formatReport, money, parseReportArgs, type ReportJson } from './recovery-report.js';

const DAY = 86_400_000;

function cli(args: string[], databaseUrl: string) {
  expect(existsSync('dist/cli.js'), 'run `npm run build` first (npm test does)').toBe(true);
  const result = spawnSync(process.execPath, ['dist/cli.js', ...args], {
    env: { PATH: process.env.PATH ?? '', DATABASE_URL: databaseUrl, LOG_LEVEL: 'silent' },
    encoding: 'utf8',
    timeout: 15_000,
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('funnelbeacon report', () => {
  it('prints one table, or JSON for scripts, over the period asked for', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'funnelbeacon-report-')), 'r.db');
    const store = new SqliteStore(path);
    await store.migrate();
    const now = Date.now();
    await store.transaction(async (tx) => {
      for (const id of ['a', 'b']) {
        await tx.insertSession({ id, campaignId: '1', createdAt: now - DAY, lastSeenAt: now - DAY, landingUrl: undefined, referrer: undefined, userAgent: 'x', ip: '1', isBot: false });
      }
      await tx.updateSession('a', { lead: { emailAddress: 'a@example.com' } });
    });
    await store.recordCartOutcome({ sessionId: 'a', at: now - DAY, totalCents: 3995, currency: 'USD', linkExpiresAt: now + 6 * DAY });
    await store.recordRecoveryClick('a', now - DAY + 1000);
    await store.recordRecoveryReturn('a', now - DAY + 2000);
    await store.recordOrderOutcome({ sessionId: 'a', at: now - DAY + 3000, totalCents: 3995, currency: 'USD', recoversCart: true });
    await store.recordCartOutcome({ sessionId: 'old', at: now - 20 * DAY, totalCents: 100, currency: 'USD', linkExpiresAt: now - 13 * DAY });
    await store.close();

    const json = cli(['report', '--json'], `file:${path}`);
    expect(json.code).toBe(0);
    const report = JSON.parse(json.stdout) as ReportJson;
    expect(report).toMatchObject({
      sessions: 2,
      leads: 1,
      cartsAbandoned: 1,
      cartsRecovered: 1,
      cartsRecoveredByLink: 1,
      recoveredRevenue: { USD: 3995 },
      recoveryRate: 1,
      cartsLost: 0,
      orders: 1,
      revenue: { USD: 3995 },
      recoveryClicks: 1,
      linkLifetimeMs: 7 * DAY,
    });

    const month = JSON.parse(cli(['report', '--since', '30d', '--json'], `file:${path}`).stdout) as ReportJson;
    expect(month).toMatchObject({ cartsAbandoned: 2, cartsLost: 1, recoveryRate: 0.5 });

    const table = cli(['report'], `file:${path}`);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/carts recovered\s+1\s+USD 39\.95/);
    expect(table.stdout).toMatch(/by recovery link\s+1\s+USD 39\.95/);
    expect(table.stdout).toMatch(/recovery rate\s+100%/);

    expect(cli(['report', '--since', 'lately'], `file:${path}`)).toMatchObject({ code: 2, stderr: expect.stringMatching(/--since/) });
  });

  it('formats amounts by currency and reads its arguments', async () => {
    expect(money({ USD: 3995, EUR: 100 })).toBe('EUR 1.00, USD 39.95');
    expect(money({})).toBe('-');
    expect(parseReportArgs({})).toEqual({ ok: true, sinceMs: 7 * DAY, json: false });
    expect(parseReportArgs({ since: '24h', json: true })).toEqual({ ok: true, sinceMs: DAY, json: true });
    // An empty store: no cart abandoned, so no recovery rate to print.
    const store = new SqliteStore(':memory:');
    await store.migrate();
    const empty = formatReport(await buildReport(store, { sinceMs: 7 * DAY, now: Date.now(), linkTtlMs: 7 * DAY }), 7 * DAY);
    await store.close();
    expect(empty).toMatch(/recovery rate\s+-/);
    expect(empty).not.toMatch(/after the order/);
  });

  it('prints what happened after the order, in the table and in JSON, once the lifecycle sync stored events', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'funnelbeacon-report-')), 'r.db');
    const store = new SqliteStore(path);
    await store.migrate();
    const now = Date.now();
    const txn = (id: number, fields: Record<string, unknown>) => ({ transactionId: String(id), txnType: 'SALE', responseType: 'SUCCESS', orderId: 'O1', purchaseId: 'P1', emailAddress: 'buyer@example.com', currency: 'USD', ...fields });
    const rows = [
      txn(1, { billingCycleNumber: 1, totalAmount: '39.95' }),
      txn(2, { billingCycleNumber: 2, responseType: 'SOFT_DECLINE', totalAmount: '39.95' }),
      txn(3, { billingCycleNumber: 2, totalAmount: '39.95' }),
      txn(4, { billingCycleNumber: 2, txnType: 'REFUND', totalAmount: '-5.00' }),
    ];
    for (const [i, row] of rows.entries()) await store.transaction((tx) => recordChange(tx, 'transactions', row, now - DAY + i));
    await store.transaction((tx) => recordChange(tx, 'purchases', { purchaseId: 'P1', orderId: 'O1', status: 'CANCELLED', emailAddress: 'buyer@example.com', dateUpdated: '2026-12-06 10:00:00' }, now - DAY));
    await store.close();

    const report = JSON.parse(cli(['report', '--json'], `file:${path}`).stdout) as ReportJson;
    expect(report.lifecycle).toMatchObject({
      sales: 1,
      rebills: 1,
      rebillCents: { USD: 3995 },
      rebillDeclines: 1,
      recoveredRebills: 1,
      refunds: 1,
      refundCents: { USD: 500 },
      cancellations: 1,
      activeSubscribers: 0,
      netCents: { USD: 3995 + 3995 - 500 },
    });
    const table = cli(['report'], `file:${path}`).stdout;
    expect(table).toMatch(/rebills\s+1\s+USD 39\.95/);
    expect(table).toMatch(/recovered rebills\s+1\s+USD 39\.95/);
    expect(table).toMatch(/refunds\s+1\s+USD 5\.00/);
    expect(table).toMatch(/cancellations\s+1/);
    expect(table).toMatch(/net revenue\s+USD 74\.90/);
  });
});
