/**
 * The Delivery view's accuracy section in real Chromium, live mode with the strict Konnektive
 * double: Konnektive refuses a visitor's Import Click, the section counts it failed (accuracy
 * below 100%), its row opens the item linked to the visitor's session; replayed and delivered,
 * the destination is back at 100%. Nothing here sleeps: every wait polls the store or the page.
 */
import { expect, sessionIds, test } from './support/fixtures.js';

const TOKEN = 'e2e-dashboard-token-0123456789';
test.use({ stackEnv: { DASHBOARD_TOKEN: TOKEN } });

test('live: an Import Click Konnektive refused shows as failed, drills down to its session, and is back at 100% once replayed', async ({ page, stack }) => {
  const { a, collector, konnektive } = stack;
  konnektive.fail('error', { times: 1 });
  await page.goto(`${a}/presell.html?affId=A1`);
  const { session } = await sessionIds(page);
  await expect.poll(async () => (await collector.store.listJobs({ sessionId: session, state: 'dead' })).length).toBe(1);

  await page.goto(`${collector.url}/dashboard/#/delivery`);
  await page.waitForURL((u) => u.pathname === '/dashboard/login');
  await page.getByLabel('Dashboard token').fill(TOKEN);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL((u) => u.pathname === '/dashboard/');
  await page.goto(`${collector.url}/dashboard/#/delivery`);

  const accuracy = page.getByRole('region', { name: 'Delivery accuracy per destination' });
  const click = accuracy.getByRole('row').filter({ has: page.getByRole('rowheader', { name: 'Konnektive Import Click' }) });
  // Destination, expected, sent, skipped, failed, missing, accuracy.
  await expect(click.getByRole('cell').nth(0)).toHaveText('1');
  await expect(click.getByRole('cell').nth(3)).toHaveText('1');
  await expect(click.getByRole('cell').nth(5)).toHaveText('0%');

  await click.getByRole('button', { name: 'Show the items of Konnektive Import Click that failed or are missing' }).click();
  const item = accuracy.getByRole('link', { name: session });
  await expect(item).toHaveAttribute('href', `#/sessions/${session}`);
  await expect(accuracy).toContainText('failed (dead letter, replayable below)');

  await page.locator('table.data tbody tr').filter({ hasText: 'An unexpected error occurred' }).getByRole('button', { name: /^Replay job \d+$/ }).click();
  await expect.poll(() => konnektive.sessions.size).toBe(1);
  // The section reads again each minute; a reload reads it now.
  await page.reload();
  await expect(click.getByRole('cell').nth(5)).toHaveText('100%');
  await expect(click.getByRole('cell').nth(1)).toHaveText('1');
});
