/**
 * @module upstreams
 * Every upstream the outbox calls, and how people see them named. Kept apart (no imports) so the
 * dashboard's browser code can read it too.
 */

/** Each has its own relay lane (collector/outbox/relay-lane.ts) and its own health. */
export const UPSTREAMS = ['konnektive', 'activecampaign', 'meta', 'tiktok', 'postbacks'] as const;
export type Upstream = (typeof UPSTREAMS)[number];

/** How the dashboard, logs and errors name each upstream. */
export const UPSTREAM_NAMES: Readonly<Record<Upstream, string>> = Object.freeze({
  konnektive: 'Konnektive',
  activecampaign: 'ActiveCampaign',
  meta: 'Meta',
  tiktok: 'TikTok',
  postbacks: 'Postbacks',
});
