/**
 * @module doctor
 * `funnelbeacon doctor`: checks the configuration, the store and each upstream with a harmless
 * call, and says what to fix. Prints one line per check; exits 1 when any check failed.
 */
import type { ConfigResult } from './config.js';
import { konnektiveClient } from './konnektive/konnektive-client.js';
import { usDate } from './konnektive/konnektive-probe.js';
import { openStore } from './store/open-store.js';

export async function runDoctor(result: ConfigResult, print: (line: string) => void = console.log): Promise<number> {
  let failed = 0;
  const ok = (line: string) => print(`ok    ${line}`);
  const bad = (line: string) => {
    failed++;
    print(`FAIL  ${line}`);
  };

  if (!result.ok) {
    for (const problem of result.problems) bad(`config: ${problem}`);
    return 1;
  }
  const config = result.config;
  ok(`config: ${config.sandbox ? 'sandbox mode (no upstream credentials)' : 'live mode'}, emitting via ${config.emitVia}`);

  try {
    const store = await openStore(config.databaseUrl);
    await store.migrate();
    await store.ping();
    await store.close();
    ok(`store: ${store.kind} reachable and migrated`);
  } catch (error) {
    bad(`store: cannot open ${config.databaseUrl.split('@').pop()}: ${error instanceof Error ? error.message : String(error)}`);
  }

  if (config.konnektive) {
    const api = konnektiveClient({ ...config.konnektive, timeoutMs: 10_000 });
    const today = usDate(Date.now());
    const answer = await api.call('queryOrder', { startDate: today, endDate: today, resultsPerPage: '1' });
    if (answer.ok || answer.failure === 'rejected') ok(`konnektive: ${config.konnektive.apiUrl} accepts the API credentials`);
    else if (answer.failure === 'auth') {
      bad(
        'konnektive: credentials refused. Check KONNEKTIVE_LOGIN_ID and KONNEKTIVE_PASSWORD, that the API user may call ' +
          "Import Click, Import Lead and Query Order, and that this server's public IP is on the API user's IP whitelist.",
      );
    } else bad(`konnektive: ${config.konnektive.apiUrl} did not answer properly (${answer.message})`);
  } else {
    ok('konnektive: not configured; calls are recorded in sandbox mode');
  }
  return failed > 0 ? 1 : 0;
}
