import { afterEach, describe, expect, it } from 'vitest';
import { konnektiveEnv, startTestCollector, testEnv, type TestCollector } from '../../test/support/test-collector.js';

let collector: TestCollector;
afterEach(async () => {
  await collector.close();
});

describe('GET /demo/', () => {
  it('serves a five-page funnel carrying the snippet in sandbox mode', async () => {
    collector = await startTestCollector(testEnv());
    const pages: Record<string, string> = {
      '/demo/': 'presell',
      '/demo/lead': 'lead',
      '/demo/checkout': 'checkout',
      '/demo/upsell': 'upsell1',
      '/demo/thanks': 'thankyou',
    };
    for (const [path, page] of Object.entries(pages)) {
      const res = await fetch(`${collector.url}${path}`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/text\/html/);
      expect(await res.text()).toContain(`<script defer src="/f.js" data-page="${page}"`);
    }
  });

  it('does not exist on a live collector', async () => {
    collector = await startTestCollector(konnektiveEnv('http://127.0.0.1:9'));
    expect((await fetch(`${collector.url}/demo/`)).status).toBe(404);
  });
});
