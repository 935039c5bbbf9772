/**
 * @module driver
 * What the cross-engine scenarios need from a browser, and nothing more: Playwright cannot drive
 * Debian's Firefox or WebKitGTK, so each engine is driven by its own automation (Playwright for
 * Chromium, WebDriver BiDi for Firefox, W3C WebDriver for WebKit) behind this one interface, and
 * the scenarios are written once against it.
 *
 * Input goes through each engine's automation (trusted events, as a buyer's clicks and keys),
 * never through `element.click()` in the page, except where a scenario says so on purpose.
 */

export const ENGINES = ['chromium', 'firefox', 'webkit'] as const;
export type EngineName = (typeof ENGINES)[number];

/** How a page is opened: a desktop window, or a phone's viewport with touch input. */
export type Device = 'desktop' | 'phone';

/** The phone's viewport, in CSS pixels (an iPhone 15's). */
export const PHONE = { width: 393, height: 852 };

export interface Cookie {
  name: string;
  value: string;
}

export interface EnginePage {
  /** Opens `url` and waits for its load event. */
  goto(url: string): Promise<void>;
  /** The address in the address bar. */
  url(): Promise<string>;
  /** Waits until the address is `url` (a navigation the page started: link, form, script). */
  waitForUrl(url: string): Promise<void>;
  /** A trusted click (a tap on a phone page) on the first element matching `selector`. */
  click(selector: string): Promise<void>;
  /** Focuses the field, clears it, and types `value` key by key; the focus stays in the field. */
  fill(selector: string, value: string): Promise<void>;
  /**
   * Runs `fn(arg)` in the page and returns its (awaited, JSON-serialisable) result. `fn` must be
   * self-contained: it is sent to the page as source.
   */
  evaluate<T, A = undefined>(fn: (arg: A) => T | Promise<T>, arg?: A): Promise<T>;
  /** The cookies the page's document can see. */
  cookies(): Promise<Cookie[]>;
  /** History back; resolves once the previous entry is the current one (from the cache or not). */
  back(): Promise<void>;
  reload(): Promise<void>;
  /** Closes the tab, as a buyer does (no beforeunload prompt). */
  close(): Promise<void>;
}

/**
 * One buyer's browser: its tabs share cookies and storage, and share none with another device's.
 * Each scenario starts on a device of its own, so that no cookie of an earlier scenario's
 * collector (cookies ignore the port) is carried into the next.
 */
export interface EngineDevice {
  /** A new tab (a phone device's have the phone's viewport and input). */
  newPage(): Promise<EnginePage>;
  /**
   * Uncaught exceptions and console errors of its pages (a Content-Security-Policy violation
   * included), where the engine's automation reports them: Chromium and Firefox; WebKit's
   * WebDriver reports none.
   */
  readonly errors: string[];
  close(): Promise<void>;
}

export interface EngineBrowser {
  readonly engine: EngineName;
  newDevice(kind?: Device): Promise<EngineDevice>;
  close(): Promise<void>;
}

/** Polls `check` until it returns true, or throws `message` after `timeoutMs`. */
export async function waitUntil(check: () => Promise<boolean> | boolean, message: string, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > until) throw new Error(`timed out: ${message}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
