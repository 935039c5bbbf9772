/**
 * @module request-uri
 * The landing URL as Import Click's `requestUri`, which Konnektive refuses above 500 characters
 * (docs/upstreams.md, Import Click). A URL the buyer arrived on reaches the CRM exactly as it
 * was, or not at all: a long one loses whole query parameters, never part of a value, so an ad
 * id or a UTM value is either there byte for byte or absent.
 */

/** Parameters Konnektive reads for attribution (affiliate ids and UTM values): kept first. */
const ATTRIBUTION = /^(affid|c[1-5]|sub[1-5]?|subid[1-5]?|click_?id|utm_[a-z]+)$/i;

/**
 * `url` without its fragment (a browser never sends it to a server either) when it fits in `max`;
 * else the same URL with as many of its query parameters as fit, attribution parameters first,
 * each byte for byte and in its original order; else the origin and path; else the origin.
 */
export function fitRequestUri(url: string, max: number): string {
  const hashAt = url.indexOf('#');
  const whole = hashAt === -1 ? url : url.slice(0, hashAt);
  if (whole.length <= max) return whole;
  const queryAt = whole.indexOf('?');
  const base = queryAt === -1 ? whole : whole.slice(0, queryAt);
  if (base.length > max) return originOf(base, max);
  const params = whole.slice(queryAt + 1).split('&').filter((param) => param !== '');
  const name = (param: string): string => {
    const at = param.indexOf('=');
    return at === -1 ? param : param.slice(0, at);
  };
  const kept = new Set<number>();
  // base + '?' + params joined by '&': each kept parameter costs its length plus one separator.
  let length = base.length;
  const take = (wanted: (param: string) => boolean) => {
    params.forEach((param, index) => {
      if (kept.has(index) || !wanted(param) || length + 1 + param.length > max) return;
      kept.add(index);
      length += 1 + param.length;
    });
  };
  take((param) => ATTRIBUTION.test(name(param)));
  take(() => true);
  if (kept.size === 0) return base;
  return `${base}?${params.filter((_, index) => kept.has(index)).join('&')}`;
}

/** A path longer than the limit: the origin alone (an http(s) origin is short). */
function originOf(base: string, max: number): string {
  try {
    const origin = new URL(base).origin;
    return origin.length <= max && origin !== 'null' ? origin : '';
  } catch {
    return '';
  }
}
