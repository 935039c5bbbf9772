/**
 * The Playwright fixtures of the end-to-end suite: a fresh {@link Stack} per test (so each test
 * owns its store and its Konnektive state), every request of the context recorded, and the
 * host page's errors collected: every test fails if a page had an uncaught error or a console
 * error (a Content-Security-Policy violation included).
 */
import { test as base, expect, type Page } from '@playwright/test';
import type { IngestResponse, LeadFields } from '../../collector/wire-schema.js';
import { recordRequests, type RequestLog } from './requests.js';
import { startStack, type Stack } from './stack.js';

export interface PageErrors {
  /** Uncaught exceptions and console errors, except the browser's own network-failure notes. */
  list: string[];
}

export const test = base.extend<{ stackEnv: Record<string, string>; stack: Stack; requests: RequestLog; pageErrors: PageErrors }>({
  /** Collector settings for the tests of a file: `test.use({ stackEnv: { ABANDON_AFTER: '2s' } })`. */
  stackEnv: [{}, { option: true }],
  stack: async ({ stackEnv }, use) => {
    const stack = await startStack(stackEnv);
    await use(stack);
    await stack.close();
  },
  requests: async ({ context }, use) => {
    await use(recordRequests(context));
  },
  pageErrors: [
    async ({ context }, use) => {
      const errors: PageErrors = { list: [] };
      const watch = (page: Page) => {
        page.on('pageerror', (error) => errors.list.push(`uncaught: ${error.message}`));
        page.on('console', (message) => {
          const text = message.text();
          // "Failed to load resource: ... 500" and net::ERR_CONNECTION_REFUSED are the browser
          // reporting a failed request, which is the situation under test, not a script error.
          if (message.type() === 'error' && !/Failed to load resource|net::ERR_/.test(text)) errors.list.push(`console: ${text}`);
        });
      };
      context.pages().forEach(watch);
      context.on('page', watch);
      await use(errors);
      expect(errors.list, 'errors on the page').toEqual([]);
    },
    { auto: true },
  ],
});

export { expect };

/** The session ids of the page, from the `ready` command (waits for the collector's first answer). */
export function sessionIds(page: Page): Promise<IngestResponse['ids']> {
  return page.evaluate(
    () =>
      new Promise<IngestResponse['ids']>((resolve) => {
        const { funnelbeacon } = window as unknown as { funnelbeacon: (command: 'ready', callback: typeof resolve) => void };
        funnelbeacon('ready', resolve);
      }),
  );
}

/** Waits until the stored session's lead has at least these values. */
export async function expectLead(stack: Stack, sessionId: string, fields: LeadFields, timeout = 10_000): Promise<void> {
  await expect
    .poll(async () => (await stack.collector.store.getSession(sessionId))?.lead ?? {}, { timeout, message: 'stored lead' })
    .toMatchObject(fields);
}
