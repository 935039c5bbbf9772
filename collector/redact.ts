/**
 * @module redact
 * Summaries of upstream requests and responses for the delivery-attempt log and the sandbox
 * record: enough to see what was sent and why it failed, without personal data or credentials.
 */

/** Parameters whose values are ids, enums or amounts, never a person's data. */
const SAFE_KEYS = new Set([
  'campaignId',
  'pageType',
  'sessionId',
  'orderId',
  'customerId',
  'type',
  'queryType',
  'orderStatus',
  'resultsPerPage',
  'page',
  'startDate',
  'endDate',
  'country',
  'externalcheckoutid',
  'externalid',
  'source',
  'totalPrice',
  'currency',
  'abandonedDate',
  'connectionid',
  'customerid',
  'affId',
]);

/** URLs keep their origin, path and the names (not values) of their query parameters. */
const URL_KEYS = new Set(['requestUri', 'httpReferer', 'orderUrl']);

export function summariseParams(params: Record<string, string>): string {
  const summary: Record<string, string> = {};
  for (const [key, value] of Object.entries(params)) {
    if (key === 'loginId' || key === 'password') continue;
    if (SAFE_KEYS.has(key)) summary[key] = value.slice(0, 64);
    else if (URL_KEYS.has(key)) summary[key] = summariseUrl(value);
    else summary[key] = '[redacted]';
  }
  return JSON.stringify(summary);
}

function summariseUrl(value: string): string {
  try {
    const url = new URL(value);
    const names = [...new Set(url.searchParams.keys())];
    // A recovery link's path is its token, a key to the buyer's checkout: never kept.
    const path = url.pathname.replace(/^\/r\/[^/]+/, '/r/[token]');
    return `${url.origin}${path}${names.length ? `?${names.join('&')}` : ''}`;
  } catch {
    return '[unparsable url]';
  }
}

const EMAIL = /[^\s@"']+@[^\s@"']+\.[^\s@"']+/g;
const LONG_DIGITS = /\d[\d\s-]{6,}\d/g;

/** An upstream message, with anything that looks like an email or a phone/card number masked. */
export function redactMessage(message: string): string {
  return message.replace(EMAIL, '[email]').replace(LONG_DIGITS, '[number]').slice(0, 500);
}

/** The ids of a success message, nothing else. */
export function summariseMessage(message: Record<string, unknown>): string {
  const summary: Record<string, unknown> = {};
  for (const key of ['sessionId', 'orderId', 'customerId', 'orderStatus', 'totalResults', 'id']) {
    if (message[key] !== undefined) summary[key] = message[key];
  }
  return JSON.stringify(summary);
}
