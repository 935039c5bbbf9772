/**
 * An engine whose Debian packages are missing is not skipped: `npm test` fails, naming the
 * engine and the package to install.
 */
import { describe, expect, it } from 'vitest';
import { launchEngine, missingPackages } from '../../e2e/engines/launch.js';

const nothingInstalled = () => false;

describe('an engine that is not installed', () => {
  it.each([
    ['chromium', 'chromium'],
    ['firefox', 'firefox-esr'],
    ['webkit', 'webkit2gtk-driver and xvfb'],
  ] as const)('%s fails, naming %s', async (engine, packages) => {
    await expect(launchEngine(engine, nothingInstalled)).rejects.toThrow(`${engine}: not installed; install the Debian package ${packages}`);
  });

  it('WebKit without Xvfb names only xvfb', () => {
    expect(missingPackages('webkit', (path) => !path.endsWith('/Xvfb'))).toEqual(['xvfb']);
  });
});
