/**
 * @module media-hosts
 * Which product image and page URLs from a browser may reach an email: those on the funnel's own
 * hosts (the hosts of `ALLOWED_ORIGINS` and of `PUBLIC_URL`) or on the media hosts the owner lists
 * (`PRODUCT_MEDIA_HOSTS`), each host or any subdomain of it. The URL parser decides, never a
 * pattern on the text: `https://evil.example/?u=funnel.example`, `https://funnel.example@evil.example`
 * and `https://funnel.example.evil` are all on another host. Userinfo is refused even on an
 * allowed host (it only serves to disguise a link). A URL that passes is sent as the parser
 * writes it (`href`); one that fails is left out, never repaired.
 *
 * URLs from the catalogue are the owner's and do not come through here.
 */
import type { Config } from '../config.js';

export interface MediaHosts {
  /** The URL as the parser writes it when its host is allowed, else undefined. */
  allowed(url: string | undefined): string | undefined;
}

export function mediaHosts(config: Pick<Config, 'allowedOrigins' | 'publicUrl' | 'productMediaHosts'>): MediaHosts {
  const hosts = new Set<string>(config.productMediaHosts);
  for (const origin of [...config.allowedOrigins, config.publicUrl]) {
    try {
      hosts.add(new URL(origin).hostname);
    } catch {
      // Config has parsed every origin already.
    }
  }
  const listed = [...hosts];
  return {
    allowed(text) {
      if (!text) return undefined;
      let url: URL;
      try {
        url = new URL(text);
      } catch {
        return undefined;
      }
      if (url.protocol !== 'https:' && url.protocol !== 'http:') return undefined;
      if (url.username !== '' || url.password !== '') return undefined;
      const host = url.hostname;
      return listed.some((allowed) => host === allowed || host.endsWith(`.${allowed}`)) ? url.href : undefined;
    },
  };
}
