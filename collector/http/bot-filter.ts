/**
 * @module bot-filter
 * Known bots and crawlers, by user agent, with the well-kept `isbot` list. A funnel sees the same
 * few user agents over and over, so answers are cached (bounded) instead of running the list's
 * large pattern on every request.
 */
import { isbot } from 'isbot';

const MAX_CACHED = 2_000;

export function botDetector(): (userAgent: string) => boolean {
  const cache = new Map<string, boolean>();
  return function isKnownBot(userAgent) {
    let answer = cache.get(userAgent);
    if (answer === undefined) {
      answer = isbot(userAgent);
      if (cache.size >= MAX_CACHED) cache.delete(cache.keys().next().value as string);
      cache.set(userAgent, answer);
    }
    return answer;
  };
}
