/**
 * @module upstream-redirect
 * Calls to Konnektive and ActiveCampaign carry their credentials (Konnektive's login in the POST
 * body, ActiveCampaign's `Api-Token` header), and `fetch` would replay both to wherever a 3xx
 * points: another host, or one an on-path attacker chose. So every upstream call is made with
 * {@link NO_REDIRECTS}, and a 3xx is a failed call whose message says what to fix. Credentials go
 * only to the host the owner configured.
 */

/** The `fetch` option of every upstream call: a 3xx comes back as it is, never followed. */
export const NO_REDIRECTS = { redirect: 'manual' } as const satisfies RequestInit;

export function isRedirect(status: number): boolean {
  return status >= 300 && status < 400;
}

/**
 * What a redirect answer means, for the delivery log and `doctor`: the upstream "answered with a
 * redirect to another address", where that is (its origin only: a path or query could carry
 * anything), and the setting to change. Never the credentials.
 */
export function redirectProblem(status: number, location: string | null, requested: string | URL, setting: string): string {
  let target: string | undefined;
  try {
    const url = new URL(location ?? '', requested);
    if (url.protocol === 'https:' || url.protocol === 'http:') target = url.origin;
  } catch {
    target = undefined;
  }
  const sameOrigin = target !== undefined && target === new URL(requested).origin;
  const where = target === undefined ? 'an address that is not a web URL' : sameOrigin ? 'another address on the same host' : target;
  const fix = target !== undefined && !sameOrigin ? `set ${setting} to ${target} if that is the API's own address` : `check ${setting}`;
  return `answered with a redirect to another address (HTTP ${status} to ${where}), not followed: ${fix}`;
}
