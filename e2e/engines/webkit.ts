/**
 * @module webkit
 * WebKit: WebKitGTK's MiniBrowser, driven by `WebKitWebDriver` (package webkit2gtk-driver) over
 * W3C WebDriver with selenium-webdriver. MiniBrowser needs a display, so each browser gets its own
 * Xvfb. WebDriver has one current window per session: every page call switches to its own window
 * first. Another device is another session (another MiniBrowser, with its own storage).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { Builder, By, type WebDriver } from 'selenium-webdriver';
import { PHONE, waitUntil, type EngineBrowser, type EnginePage } from './driver.js';

export const WEBKIT_DRIVER_BINARY = '/usr/bin/WebKitWebDriver';
export const XVFB_BINARY = '/usr/bin/Xvfb';
const IPHONE_SAFARI =
  'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1';

/** MiniBrowser lives in the multiarch library directory, under the WebKitGTK API version. */
export function miniBrowserBinary(): string | undefined {
  for (const arch of existsSync('/usr/lib') ? readdirSync('/usr/lib') : []) {
    for (const api of ['webkit2gtk-4.1', 'webkit2gtk-4.0', 'webkitgtk-6.0']) {
      const path = `/usr/lib/${arch}/${api}/MiniBrowser`;
      if (existsSync(path)) return path;
    }
  }
  return undefined;
}

/** Killed if the test process exits without closing the browser (a timed-out test). */
const children = new Set<ChildProcess>();
process.once('exit', () => children.forEach((child) => child.kill()));
function own(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A private X display; `-displayfd` has Xvfb pick a free one and tell us its number. */
async function startXvfb(): Promise<{ display: string; process: ChildProcess }> {
  const xvfb = own(spawn(XVFB_BINARY, ['-displayfd', '3', '-nolisten', 'tcp', '-screen', '0', '1280x1024x24'], { stdio: ['ignore', 'ignore', 'pipe', 'pipe'] }));
  let stderr = '';
  xvfb.stderr!.on('data', (chunk: Buffer) => (stderr += chunk));
  const number = await new Promise<string>((resolve, reject) => {
    let out = '';
    (xvfb.stdio[3] as NodeJS.ReadableStream).on('data', (chunk: Buffer) => {
      out += chunk;
      if (out.includes('\n')) resolve(out.trim());
    });
    xvfb.on('exit', (code) => reject(new Error(`Xvfb exited (${code}): ${stderr}`)));
  });
  return { display: `:${number}`, process: xvfb };
}

interface Session {
  driver: WebDriver;
  close(): Promise<void>;
}

/** One WebKitWebDriver, and the MiniBrowser session it drives. */
async function startSession(display: string, userAgent?: string): Promise<Session> {
  const port = await freePort();
  const server = own(spawn(WEBKIT_DRIVER_BINARY, [`--port=${port}`], { env: { ...process.env, DISPLAY: display }, stdio: ['ignore', 'ignore', 'pipe'] }));
  let stderr = '';
  server.stderr!.on('data', (chunk: Buffer) => (stderr += chunk));
  await waitUntil(
    () =>
      fetch(`http://127.0.0.1:${port}/status`).then(
        (answer) => answer.ok,
        () => false,
      ),
    `WebKitWebDriver listening (${stderr})`,
  );
  const driver = await new Builder()
    .usingServer(`http://127.0.0.1:${port}`)
    .withCapabilities({ browserName: 'MiniBrowser', 'webkitgtk:browserOptions': { binary: miniBrowserBinary(), args: ['--automation', ...(userAgent ? [`--user-agent=${userAgent}`] : [])] } })
    .build();
  await driver.manage().setTimeouts({ script: 10_000, pageLoad: 20_000 });
  return {
    driver,
    close: async () => {
      await driver.quit().catch(() => undefined);
      server.kill();
    },
  };
}

export async function launchWebKit(): Promise<EngineBrowser> {
  const xvfb = await startXvfb();
  const sessions = new Set<Session>();
  return {
    engine: 'webkit',
    newDevice: async (kind = 'desktop') => {
      // Safari's user agent is the browser's, for its whole session: a device is a session.
      const session = await startSession(xvfb.display, kind === 'phone' ? IPHONE_SAFARI : undefined);
      sessions.add(session);
      const { driver } = session;
      if (kind === 'phone') await driver.manage().window().setRect(PHONE);
      // The session's first window is the first tab asked for. Closing a session's last window
      // ends the session, so a spare window stays open behind it: a window of its own, not a tab,
      // so that the pages stay visible (no visibilitychange) while it is there.
      let first: string | undefined = await driver.getWindowHandle();
      await driver.switchTo().newWindow('window');
      await driver.switchTo().window(first);
      return {
        newPage: async () => {
          let handle = first;
          first = undefined;
          if (!handle) {
            await driver.switchTo().newWindow('tab');
            handle = await driver.getWindowHandle();
          }
          return wrap(driver, handle);
        },
        errors: [],
        close: async () => {
          sessions.delete(session);
          await session.close();
        },
      };
    },
    close: async () => {
      for (const session of sessions) await session.close();
      xvfb.process.kill();
    },
  };
}

/**
 * `fn` travels as source and runs as an async script: its result (a promise included) goes back
 * through the callback WebDriver passes last.
 */
const ASYNC_CALL = `const done = arguments[arguments.length - 1];
Promise.resolve().then(() => (FN)(arguments[0])).then((value) => done({ value }), (error) => done({ error: String(error) }));`;

function wrap(driver: WebDriver, handle: string): EnginePage {
  const here = async (): Promise<WebDriver> => {
    if ((await driver.getWindowHandle().catch(() => undefined)) !== handle) await driver.switchTo().window(handle);
    return driver;
  };
  const page: EnginePage = {
    goto: async (url) => (await here()).get(url),
    url: async () => (await here()).getCurrentUrl(),
    waitForUrl: async (url) => {
      let at = '';
      await waitUntil(async () => (at = await page.url()) === url, `webkit at ${url} (at ${at})`);
    },
    click: async (selector) => {
      // WebKitGTK's WebDriver has no touch input (a touch pointer action never completes): a
      // phone page is clicked with the mouse.
      await (await here()).findElement(By.css(selector)).then((element) => element.click());
    },
    fill: async (selector, value) => {
      const element = await (await here()).findElement(By.css(selector));
      await element.clear();
      await element.sendKeys(value);
    },
    evaluate: async <T, A>(fn: (arg: A) => T | Promise<T>, arg?: A): Promise<T> => {
      const answer = (await (await here()).executeAsyncScript(ASYNC_CALL.replace('FN', () => fn.toString()), arg ?? null)) as { value?: T; error?: string };
      if (answer.error !== undefined) throw new Error(`in the page: ${answer.error}`);
      return answer.value as T;
    },
    cookies: async () => (await (await here()).manage().getCookies()).map(({ name, value }) => ({ name, value })),
    back: async () => {
      const before = await page.url();
      await (await here()).navigate().back();
      await waitUntil(async () => (await page.url()) !== before, 'webkit went back');
    },
    reload: async () => (await here()).navigate().refresh(),
    close: async () => {
      await here();
      await driver.close();
      // WebDriver has no current window now: the next call switches to its own.
    },
  };
  return page;
}
