/**
 * @module iso-date
 * Dates and amounts as ActiveCampaign takes them (docs/upstreams.md, "Calls in general"): ISO 8601
 * with seconds and an explicit offset (`2026-11-23T01:41:15+00:00`), and integer cents.
 */

/**
 * An instant as ActiveCampaign's date: UTC `+00:00`, without milliseconds. A string without an
 * offset names no instant: it is returned as it is, for ActiveCampaign to refuse, never guessed.
 */
export function isoDate(at: number | string): string {
  if (typeof at === 'string' && !/(Z|[+-]\d{2}:?\d{2})$/.test(at)) return at;
  const ms = typeof at === 'number' ? at : Date.parse(at);
  return Number.isNaN(ms) ? String(at) : new Date(ms).toISOString().replace(/\.\d{3}Z$/, '+00:00');
}

/** Dollars as Konnektive and the browser give them ("39.95", 39.95) to integer cents. */
export function toCents(amount: number | string): number {
  const text = typeof amount === 'number' ? amount.toFixed(2) : amount.trim();
  const match = /^(-?)(\d*)(?:\.(\d{0,2})\d*)?$/.exec(text);
  if (!match) return Number.NaN;
  const cents = Number(match[2] || '0') * 100 + Number((match[3] ?? '').padEnd(2, '0'));
  return match[1] ? -cents : cents;
}
