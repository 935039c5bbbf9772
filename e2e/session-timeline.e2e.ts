/**
 * A long session on the dashboard, in real Chromium: 450 events sent through the ingest route
 * (nine batches of fifty, well within the session's cap) make a timeline of hundreds of entries.
 * The session's page shows the first 200 with the totals, and "Show more" adds the next pages
 * until every entry is shown. The totals and the button are saved at 1280x800 into
 * test-results/screenshots/ (or FUNNELBEACON_SCREENSHOTS_DIR).
 */
import { randomUUID } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import type { IngestResponse } from '../collector/wire-schema.js';
import { expect, test } from './support/fixtures.js';

const TOKEN = 'e2e-dashboard-token-0123456789';
const SHOTS = process.env.FUNNELBEACON_SCREENSHOTS_DIR || 'test-results/screenshots';
const DESKTOP_CHROME =
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';

test.use({ stackEnv: { DASHBOARD_TOKEN: TOKEN } });

test('a session of hundreds of entries: the first 200 with the totals, then "Show more" up to the last', async ({ page, stack }) => {
  const { a, collector } = stack;
  const post = async (body: unknown): Promise<IngestResponse> => {
    const res = await fetch(`${collector.url}/v1/events`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain', origin: a, 'user-agent': DESKTOP_CHROME },
      body: JSON.stringify(body),
    });
    expect(res.status).toBe(200);
    return (await res.json()) as IngestResponse;
  };
  const first = await post({ campaign: '12', events: [{ id: randomUUID(), type: 'page', page: 'checkout', url: `${a}/checkout.html?affId=A1` }] });
  const exits = (n: number) => Array.from({ length: n }, () => ({ id: randomUUID(), type: 'exit', page: 'checkout' }));
  await post({ session: first.session, events: exits(49) });
  for (let batch = 0; batch < 8; batch++) await post({ session: first.session, events: exits(50) });
  const id = first.ids.session;
  expect((await collector.store.getSession(id))?.eventCount).toBe(450);
  // The page view's Import Click is made before the page is opened, so the totals hold still.
  await expect.poll(async () => (await collector.store.countJobsByState()).pending + (await collector.store.countJobsByState()).running).toBe(0);

  await page.goto(`${collector.url}/dashboard/login`);
  await page.getByLabel('Dashboard token').fill(TOKEN);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL((u) => u.pathname === '/dashboard/');
  await page.goto(`${collector.url}/dashboard/#/sessions/${encodeURIComponent(id)}`);

  const totals = page.locator('.timeline-totals');
  const entries = page.locator('ol.timeline > li');
  const more = page.getByRole('button', { name: 'Show more' });
  await expect(totals).toHaveText(/^200 of [\d,]+ entries shown · 450 events stored$/);
  const total = Number((await totals.innerText()).match(/of ([\d,]+) entries/)![1]!.replace(/,/g, ''));
  // 450 events, the state it opened in, and the Import Click.
  expect(total).toBe(452);
  await expect(entries).toHaveCount(200);
  await expect(entries.first()).toContainText('Page: ');

  await mkdir(SHOTS, { recursive: true });
  await totals.scrollIntoViewIfNeeded();
  await page.screenshot({ path: `${SHOTS}/session-timeline-totals.png`, animations: 'disabled' });
  await more.scrollIntoViewIfNeeded();
  await page.screenshot({ path: `${SHOTS}/session-timeline-more.png`, animations: 'disabled' });

  await more.click();
  await expect(entries).toHaveCount(400);
  await expect(totals).toHaveText('400 of 452 entries shown · 450 events stored');

  await more.click();
  await expect(entries).toHaveCount(452);
  await expect(totals).toHaveText('All 452 entries shown · 450 events stored');
  await expect(more).toHaveCount(0);
  await expect(entries.filter({ hasText: 'Left the page' })).toHaveCount(449);
});
