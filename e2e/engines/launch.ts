/**
 * @module launch
 * Starts an engine by name, after checking that its Debian packages are installed: the
 * cross-engine suite runs in every engine, so a machine without one fails, naming the package
 * to install (`.ci/run` installs them).
 */
import { existsSync } from 'node:fs';
import { CHROMIUM_BINARY, launchChromium } from './chromium.js';
import type { EngineBrowser, EngineName } from './driver.js';
import { FIREFOX_BINARY, launchFirefox } from './firefox.js';
import { launchWebKit, miniBrowserBinary, WEBKIT_DRIVER_BINARY, XVFB_BINARY } from './webkit.js';

/** The Debian packages an engine needs that are not installed (none: ready to run). */
export function missingPackages(engine: EngineName, exists: (path: string) => boolean = existsSync): string[] {
  const needs: Record<EngineName, [string | undefined, string][]> = {
    chromium: [[CHROMIUM_BINARY, 'chromium']],
    firefox: [[FIREFOX_BINARY, 'firefox-esr']],
    webkit: [
      [WEBKIT_DRIVER_BINARY, 'webkit2gtk-driver'],
      [miniBrowserBinary(), 'webkit2gtk-driver'],
      [XVFB_BINARY, 'xvfb'],
    ],
  };
  return [...new Set(needs[engine].filter(([binary]) => !binary || !exists(binary)).map(([, name]) => name))];
}

export async function launchEngine(engine: EngineName, exists: (path: string) => boolean = existsSync): Promise<EngineBrowser> {
  const missing = missingPackages(engine, exists);
  if (missing.length > 0) throw new Error(`${engine}: not installed; install the Debian package ${missing.join(' and ')} (apt-get install ${missing.join(' ')})`);
  const launchers = { chromium: launchChromium, firefox: launchFirefox, webkit: launchWebKit };
  return launchers[engine]();
}
