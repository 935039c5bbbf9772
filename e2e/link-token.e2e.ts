/**
 * The link token that carries the session to the next domain: a valid one is adopted, an
 * expired or tampered one is refused (a new session starts), and none stays in the address bar.
 */
import type { Page } from '@playwright/test';
import { signLink } from '../collector/tokens.js';
import { expect, sessionIds, test } from './support/fixtures.js';
import { SECRET, type Stack } from './support/stack.js';

/** A session on domain A, and the link to checkout on B that its lead page decorates. */
async function sessionOnA(page: Page, stack: Stack): Promise<{ session: string; href: string }> {
  await page.goto(`${stack.a}/lead.html`);
  const { session } = await sessionIds(page);
  const link = page.locator('#to-checkout');
  await expect(link).toHaveAttribute('href', /[?&]_fb=l\./);
  return { session, href: (await link.getAttribute('href'))! };
}

function tokenOf(href: string): string {
  return new URL(href).searchParams.get('_fb')!;
}

test('a valid link token carries the session and leaves the address bar', async ({ page, stack }) => {
  const { session, href } = await sessionOnA(page, stack);
  await page.goto(`${href}&utm_source=kept`);
  expect((await sessionIds(page)).session).toBe(session);
  expect(page.url()).toBe(`${stack.b}/checkout.html?utm_source=kept`);
  expect(await stack.collector.store.countSessions()).toBe(1);
});

test('a tampered link token is refused: a new session starts, the token is gone', async ({ page, stack }) => {
  const { session, href } = await sessionOnA(page, stack);
  const token = tokenOf(href);
  const tampered = token.slice(0, -2) + (token.endsWith('AA') ? 'BB' : 'AA');
  await page.goto(`${stack.b}/checkout.html?affId=X1&_fb=${tampered}`);
  const adopted = await sessionIds(page);
  expect(adopted.session).not.toBe(session);
  expect(page.url()).toBe(`${stack.b}/checkout.html?affId=X1`);
  expect(await stack.collector.store.countSessions()).toBe(2);
  const answer = stack.recorder.batches().find(({ batch }) => batch.link === tampered);
  expect(answer, 'the page sent the token it was given').toBeTruthy();
});

test('an expired link token is refused: a new session starts, the token is gone', async ({ page, stack }) => {
  const { session } = await sessionOnA(page, stack);
  const expired = signLink(SECRET, session, Date.now() - 1_000);
  await page.goto(`${stack.b}/checkout.html?_fb=${expired}`);
  const adopted = await sessionIds(page);
  expect(adopted.session).not.toBe(session);
  expect(page.url()).toBe(`${stack.b}/checkout.html`);
  expect(await stack.collector.store.countSessions()).toBe(2);
});

test('a token for the session this domain already holds changes nothing', async ({ page, stack }) => {
  const { session, href } = await sessionOnA(page, stack);
  await page.goto(href);
  expect((await sessionIds(page)).session).toBe(session);
  // Back to A with a token of the same session: A keeps its stored session and sends no link.
  const backToA = signLink(SECRET, session, Date.now() + 60_000);
  const before = stack.recorder.batches().length;
  await page.goto(`${stack.a}/presell.html?_fb=${backToA}`);
  expect((await sessionIds(page)).session).toBe(session);
  expect(page.url()).toBe(`${stack.a}/presell.html`);
  const sent = stack.recorder.batches().slice(before);
  expect(sent.every(({ batch }) => batch.link === undefined && batch.session !== undefined)).toBe(true);
});

test('a forged session token is refused and replaced, and what was refused goes again', async ({ page, stack, context }) => {
  const forged = 's.AAAAAAAAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAA';
  await context.addCookies([{ name: 'funnelbeacon', value: forged, url: stack.a }]);
  await page.goto(`${stack.a}/lead.html`);
  const { session } = await sessionIds(page);
  expect(session).not.toBe('AAAAAAAAAAAAAAAAAAAAAA');
  expect(await page.evaluate(() => document.cookie)).toContain(`funnelbeacon=s.${session}.`);
  // The page view refused with the forged token went again under the new session.
  const views = (await stack.collector.store.listEvents(session)).filter((event) => event.type === 'page');
  expect(views).toHaveLength(1);
  expect(stack.recorder.batches().filter(({ batch }) => batch.session === forged)).toHaveLength(1);
});

test('a page left open keeps fresh tokens on its links', async ({ page, stack }) => {
  await page.clock.install();
  const { session, href } = await sessionOnA(page, stack);
  const link = page.locator('#to-checkout');
  // Nine minutes later the first token is a minute from expiring: the page has renewed it.
  await page.clock.fastForward('09:00');
  await expect.poll(async () => tokenOf((await link.getAttribute('href'))!)).not.toBe(tokenOf(href));
  const refreshes = stack.recorder.batches().filter(({ batch }) => batch.events.length === 0);
  expect(refreshes.map(({ batch }) => batch.session)).toEqual([expect.stringMatching(/^s\./)]);
  await page.goto((await link.getAttribute('href'))!);
  expect((await sessionIds(page)).session).toBe(session);
});
