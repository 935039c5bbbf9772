/**
 * @module firefox
 * Firefox ESR, Debian's build, over WebDriver BiDi through puppeteer-core (Playwright's BiDi
 * channel fails on this Firefox when it opens a context). puppeteer-core downloads no browser.
 */
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { waitUntil, type EngineBrowser, type EnginePage } from './driver.js';

export const FIREFOX_BINARY = '/usr/bin/firefox-esr';

export async function launchFirefox(): Promise<EngineBrowser> {
  const browser: Browser = await puppeteer.launch({
    browser: 'firefox',
    executablePath: FIREFOX_BINARY,
    protocol: 'webDriverBiDi',
    headless: true,
    // A window a buyer would have, not puppeteer's 800x600.
    defaultViewport: { width: 1280, height: 800 },
  });
  return {
    engine: 'firefox',
    // A phone is not among the Firefox scenarios (Firefox for Android is not this build).
    newDevice: async () => {
      const context = await browser.createBrowserContext();
      const errors: string[] = [];
      const watch = (page: Page) => {
        // Firefox reports its own favicon request, which the fixture pages' img-src 'none' blocks,
        // as the page's error: the browser's doing, not a script's.
        page.on('pageerror', (error) => /\/favicon\.ico because/.test(String(error)) || errors.push(`uncaught: ${String(error)}`));
        page.on('console', (message) => {
          if (message.type() === 'error') errors.push(`console: ${message.text()}`);
        });
        return page;
      };
      return { newPage: async () => wrap(watch(await context.newPage())), errors, close: () => context.close() };
    },
    close: () => browser.close(),
  };
}

function wrap(page: Page): EnginePage {
  /**
   * The page's own address ('' while it is between documents: a script call made as the page
   * goes may wait seconds for an answer, so each ask gives up after 500 ms and the caller asks again).
   */
  const location = () =>
    Promise.race([page.evaluate(() => window.location.href).catch(() => ''), new Promise<string>((resolve) => setTimeout(() => resolve(''), 500))]);
  return {
    goto: async (url) => void (await page.goto(url, { waitUntil: 'load' })),
    url: location,
    waitForUrl: async (url) => {
      let at = '';
      await waitUntil(async () => (at = await location()) === url, `firefox at ${url} (at ${at})`);
    },
    click: (selector) => page.click(selector),
    fill: async (selector, value) => {
      await page.$eval(selector, (element) => ((element as HTMLInputElement).value = ''));
      await page.type(selector, value);
    },
    evaluate: <T, A>(fn: (arg: A) => T | Promise<T>, arg?: A) => page.evaluate(fn as never, arg as never) as Promise<T>,
    cookies: async () => {
      const { hostname } = new URL(await location());
      return (await page.browserContext().cookies()).filter((cookie) => cookie.domain.replace(/^\./, '') === hostname).map(({ name, value }) => ({ name, value }));
    },
    back: async () => {
      const before = await location();
      // puppeteer waits for a load event, which a page restored from the back/forward cache never
      // fires, and keeps the old address: go back without waiting, and ask the page where it is.
      void page.evaluate(() => history.back()).catch(() => undefined);
      await waitUntil(async () => ![before, ''].includes(await location()), 'firefox went back');
    },
    reload: async () => void (await page.reload({ waitUntil: 'load' })),
    close: () => page.close({ runBeforeUnload: false }),
  };
}
