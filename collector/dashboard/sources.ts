/**
 * @module sources
 * Where a visitor came from, read from what the collector already stores: the landing URL's
 * affiliate parameters (`affId`, `c1`..`c3`) and UTM values, and a device class from the user agent.
 */

export const SOURCE_DIMENSIONS = ['affId', 'c1', 'c2', 'c3', 'utm_source', 'utm_campaign', 'device'] as const;
export type SourceDimension = (typeof SOURCE_DIMENSIONS)[number];

export type DeviceClass = 'mobile' | 'tablet' | 'desktop' | 'other';

/** The value stored for a session that carries no such parameter. */
export const NONE = '(none)';
const MAX_VALUE = 64;

export function deviceClass(userAgent: string | null | undefined): DeviceClass {
  const ua = userAgent ?? '';
  if (ua === '') return 'other';
  if (/iPad|Tablet|PlayBook|Silk|Kindle|Android(?!.*Mobile)/i.test(ua)) return 'tablet';
  if (/Mobi|iPhone|iPod|Android.*Mobile|Windows Phone|BlackBerry|Opera Mini/i.test(ua)) return 'mobile';
  if (/Windows NT|Macintosh|X11|Linux|CrOS/i.test(ua)) return 'desktop';
  return 'other';
}

/** Each dimension's value for one session. */
export function sourcesOf(landingUrl: string | null | undefined, userAgent: string | null | undefined): Record<SourceDimension, string> {
  let params: URLSearchParams | undefined;
  try {
    params = landingUrl ? new URL(landingUrl).searchParams : undefined;
  } catch {
    params = undefined;
  }
  const read = (name: string): string => {
    const value = params?.get(name)?.trim();
    return value ? value.slice(0, MAX_VALUE) : NONE;
  };
  return {
    affId: read('affId'),
    c1: read('c1'),
    c2: read('c2'),
    c3: read('c3'),
    utm_source: read('utm_source'),
    utm_campaign: read('utm_campaign'),
    device: deviceClass(userAgent),
  };
}
