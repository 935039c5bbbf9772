/**
 * @module chromium
 * Chromium, Debian's build, through Playwright (as the Playwright suite drives it, with the
 * back/forward cache on). A phone page gets its own context: a phone's viewport, touch input and
 * a phone's user agent, so that clicks are taps.
 */
import { chromium, type Browser, type BrowserContext, type Page } from '@playwright/test';
import { PHONE, type Device, type EngineBrowser, type EnginePage } from './driver.js';

/** An ordinary desktop Chrome: the collector treats "HeadlessChrome" as a bot and relays nothing upstream. */
const DESKTOP_CHROME =
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
const PHONE_CHROME =
  'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36';

export const CHROMIUM_BINARY = '/usr/bin/chromium';

export async function launchChromium(): Promise<EngineBrowser> {
  const browser: Browser = await chromium.launch({
    executablePath: CHROMIUM_BINARY,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
    // Playwright turns the back/forward cache off by default; buyers have it.
    ignoreDefaultArgs: ['--disable-back-forward-cache'],
  });
  return {
    engine: 'chromium',
    newDevice: async (kind = 'desktop') => {
      const context: BrowserContext = await browser.newContext(
        kind === 'phone' ? { viewport: PHONE, hasTouch: true, isMobile: true, userAgent: PHONE_CHROME } : { userAgent: DESKTOP_CHROME },
      );
      const errors: string[] = [];
      context.on('page', (page) => {
        page.on('pageerror', (error) => errors.push(`uncaught: ${error.message}`));
        page.on('console', (message) => {
          // "Failed to load resource" and net::ERR_* are the browser reporting a failed request, not a script error.
          if (message.type() === 'error' && !/Failed to load resource|net::ERR_/.test(message.text())) errors.push(`console: ${message.text()}`);
        });
      });
      return { newPage: async () => wrap(await context.newPage(), kind), errors, close: () => context.close() };
    },
    close: () => browser.close(),
  };
}

function wrap(page: Page, device: Device): EnginePage {
  return {
    goto: async (url) => void (await page.goto(url)),
    url: async () => page.url(),
    waitForUrl: (url) => page.waitForURL(url, { waitUntil: 'commit' }),
    click: (selector) => (device === 'phone' ? page.tap(selector) : page.click(selector)),
    fill: async (selector, value) => {
      await page.fill(selector, '');
      await page.locator(selector).pressSequentially(value);
    },
    evaluate: <T, A>(fn: (arg: A) => T | Promise<T>, arg?: A) => page.evaluate(fn as never, arg as never) as Promise<T>,
    cookies: async () => (await page.context().cookies(page.url())).map(({ name, value }) => ({ name, value })),
    // A page restored from the back/forward cache fires no load event: wait for the commit.
    back: async () => void (await page.goBack({ waitUntil: 'commit' })),
    reload: async () => void (await page.reload()),
    close: () => page.close(),
  };
}
