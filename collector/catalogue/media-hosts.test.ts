/**
 * Which product image and page URLs from a page may reach an email: the funnel's own hosts and
 * the configured media hosts, decided by the URL parser, sent as its `href`, never repaired.
 */
import { describe, expect, it } from 'vitest';
import { parseConfig, type Config } from '../config.js';
import { mediaHosts } from './media-hosts.js';

function configWith(env: Record<string, string>): Config {
  const result = parseConfig({
    SECRET: 'x'.repeat(32),
    KONNEKTIVE_LOGIN_ID: 'login',
    KONNEKTIVE_PASSWORD: 'password',
    KONNEKTIVE_CAMPAIGNS: '12',
    ALLOWED_ORIGINS: 'https://funnel.example,https://secure.shop.example:8443',
    PUBLIC_URL: 'https://collect.example',
    ...env,
  });
  if (!result.ok) throw new Error(result.problems.join('; '));
  return result.config;
}

describe('media hosts', () => {
  const media = mediaHosts(configWith({ PRODUCT_MEDIA_HOSTS: 'cdn.example, Images.Example.NET' }));

  it.each([
    ['a funnel host', 'https://funnel.example/bottle.png', 'https://funnel.example/bottle.png'],
    ['a subdomain of a funnel host', 'https://img.funnel.example/b.png?v=2', 'https://img.funnel.example/b.png?v=2'],
    ["an origin's host on any port", 'https://secure.shop.example/p', 'https://secure.shop.example/p'],
    ["PUBLIC_URL's host", 'https://collect.example/logo.svg', 'https://collect.example/logo.svg'],
    ['a configured media host', 'https://cdn.example/b.png', 'https://cdn.example/b.png'],
    ['a subdomain of a media host, listed in capitals', 'http://eu.images.example.net/x.jpg', 'http://eu.images.example.net/x.jpg'],
    ['the same URL as the parser writes it', 'HTTPS://CDN.Example/a b.png', 'https://cdn.example/a%20b.png'],
  ])('lets %s through', (_what, url, sent) => {
    expect(media.allowed(url)).toBe(sent);
  });

  it.each([
    ['another host naming the funnel in its query', 'https://evil.example/?u=funnel.example'],
    ['another host naming the funnel in its path', 'https://evil.example/funnel.example/b.png'],
    ['the funnel as userinfo before another host', 'https://funnel.example@evil.example/verify'],
    ['userinfo on an allowed host', 'https://user:pass@funnel.example/b.png'],
    ['a host that only begins with a funnel host', 'https://funnel.example.evil/b.png'],
    ['a host that only ends like one', 'https://notfunnel.example/b.png'],
    ["the parent of a funnel host", 'https://shop.example/p'],
    ['a script URL', 'javascript:alert(1)'],
    ['a data URL', 'data:image/png;base64,AAAA'],
    ['a relative URL', '/bottle.png'],
    ['nothing', undefined],
  ])('leaves out %s', (_what, url) => {
    expect(media.allowed(url)).toBeUndefined();
  });

  it('in sandbox mode allows the local demo hosts only', () => {
    const sandbox = parseConfig({});
    if (!sandbox.ok) throw new Error(sandbox.problems.join('; '));
    const local = mediaHosts(sandbox.config);
    expect(local.allowed('http://localhost:5173/b.png')).toBe('http://localhost:5173/b.png');
    expect(local.allowed('http://127.0.0.1/b.png')).toBe('http://127.0.0.1/b.png');
    expect(local.allowed('https://cdn.example/b.png')).toBeUndefined();
  });
});

describe('PRODUCT_MEDIA_HOSTS and PRODUCTS_FILE in the configuration', () => {
  it('are read as host names and a path', () => {
    const config = configWith({ PRODUCT_MEDIA_HOSTS: 'cdn.example,,bücher.example, media.example. ', PRODUCTS_FILE: ' ./products.json ' });
    expect(config.productMediaHosts).toEqual(['cdn.example', 'xn--bcher-kva.example', 'media.example']);
    expect(config.productsFile).toBe('./products.json');
    expect(configWith({}).productMediaHosts).toEqual([]);
    expect(configWith({}).productsFile).toBeUndefined();
  });

  it('refuses a URL or a pattern where a host belongs, naming the variable', () => {
    const result = parseConfig({ PRODUCT_MEDIA_HOSTS: 'https://cdn.example,*.cdn.example,cdn.example/img,.cdn.example,cdn.example:443,u@cdn.example' });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    const problems = result.problems.filter((problem) => problem.startsWith('PRODUCT_MEDIA_HOSTS'));
    expect(problems).toHaveLength(6);
    expect(problems[0]).toBe('PRODUCT_MEDIA_HOSTS.0: "https://cdn.example" is not a host name: write it as cdn.example (its subdomains are included)');
  });
});
