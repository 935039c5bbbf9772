/**
 * End-to-end tests: the fixture funnel in Debian's Chromium against a real collector (see
 * e2e/support). Run `node build.mjs` first: the collector serves dist/f.js.
 */
import { defineConfig } from '@playwright/test';

/** An ordinary desktop Chrome: the collector treats "HeadlessChrome" as a bot and relays nothing upstream. */
const DESKTOP_CHROME =
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';

export default defineConfig({
  testDir: 'e2e',
  // Not *.spec.ts: vitest's default include (**/*.{test,spec}.ts) would pick the suite up too.
  testMatch: '*.e2e.ts',
  forbidOnly: !!process.env.CI,
  // No retries, on CI either: a retry hides a flaky test, and a test that fails once in twenty runs is a bug.
  retries: 0,
  workers: 2,
  timeout: 30_000,
  expect: { timeout: 10_000 },
  reporter: process.env.CI ? 'list' : [['list']],
  use: {
    browserName: 'chromium',
    headless: true,
    userAgent: DESKTOP_CHROME,
    launchOptions: {
      executablePath: '/usr/bin/chromium',
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
      // Playwright turns the back/forward cache off by default; buyers have it, and the snippet
      // must resume on a page restored from it.
      ignoreDefaultArgs: ['--disable-back-forward-cache'],
    },
    trace: 'retain-on-failure',
  },
});
