/**
 * @module postback-route
 * Konnektive's Postback Export Profiles, the lifecycle sync's fast path: with
 * LIFECYCLE_POSTBACK_SECRET set, `GET` or `POST` `/v1/konnektive/postback/<secret>` (fields in the
 * query string, a form-encoded body or a JSON body) answers 200 with no body and makes the
 * lifecycle poll run now instead of at its next LIFECYCLE_POLL_EVERY.
 *
 * A postback is a hint, never a record: Konnektive signs nothing, so what it says is not stored
 * or sent anywhere. It queues the same `lifecycle.poll` job the sweeper queues, and the poll's own
 * read of Konnektive decides what changed (change-detector.ts), so a postback and the poll that
 * finds the same change make one event, and a forged postback can at most make a poll come early.
 *
 * What a flood costs is bounded:
 * - a wrong secret is the same 404 as an unknown path, found by comparing SHA-256 digests in
 *   constant time (neither the secret's characters nor its length leak through timing);
 * - each address may send {@link POSTBACKS_PER_MINUTE} (its own limit, apart from ingest's), and
 *   a body over {@link MAX_POSTBACK_BYTES} is refused unread;
 * - hints are coalesced ({@link PollHint}): at most two store writes per {@link HINT_GAP_MS} per
 *   collector, and the outbox never holds more than one waiting poll.
 * The secret is in the path, so nothing here logs the path, and the app's error handler redacts it
 * (http/token-redaction.ts).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { Hono, type Context } from 'hono';
import { systemClock, type Clock } from '../clock.js';
import type { Config } from '../config.js';
import { addressKey, clientIp } from '../http/client-ip.js';
import { fail } from '../http/errors.js';
import { rateLimit } from '../http/rate-limit.js';
import { readBodyWithin } from '../http/read-body.js';
import { queueLifecyclePoll } from '../lifecycle/lifecycle-poller.js';
import type { Logger } from '../logger.js';
import type { Store } from '../store/store.js';

/** Where Konnektive posts; the secret follows it. */
export const POSTBACK_PATH = '/v1/konnektive/postback';
/**
 * Postbacks one address may send per minute. Konnektive sends a profile's postbacks in batches
 * (every 15 minutes by default) from a few addresses; one postback is enough to start a poll
 * that reads everything, so the rest of a large batch lose nothing when refused (Konnektive
 * retries them, and each retry is again only a hint).
 */
export const POSTBACKS_PER_MINUTE = 120;
/** A postback is a few dozen mapped fields (about 2 KB in JSON); far more is not one. */
export const MAX_POSTBACK_BYTES = 16 * 1024;
/** Hints closer together than this start one poll, plus one after the gap (see {@link PollHint}). */
export const HINT_GAP_MS = 5_000;
/** The ids a postback may name its record by; at least one must be mapped. */
const RECORD_FIELDS = ['orderId', 'purchaseId', 'actualTransactionId', 'transactionId', 'customerId'] as const;

export interface PostbackRouteDeps {
  config: Config;
  store: Store;
  logger: Logger;
  clock?: Clock;
  /** Wakes the outbox worker when a poll was queued, so it runs now rather than at its next look. */
  wakeWorker?: () => void;
}

/**
 * Whether `given` is the secret, in time that depends on neither: both are hashed to 32 bytes
 * first, so `timingSafeEqual` compares equal lengths whatever was sent.
 */
export function secretMatcher(secret: string): (given: string) => boolean {
  const expected = createHash('sha256').update(secret).digest();
  return (given) => timingSafeEqual(createHash('sha256').update(given).digest(), expected);
}

/**
 * Turns any number of hints into at most one waiting poll. The first hint after a quiet
 * {@link HINT_GAP_MS} queues a poll now; the first one inside the gap queues one more for the
 * gap's end (a change Konnektive reports after the first poll read is still read), and the rest
 * inside the gap touch nothing. Queuing itself adds nothing while a poll is waiting
 * (`queueLifecyclePoll`), so the outbox never holds more than one, however many collectors
 * receive postbacks.
 */
export class PollHint {
  #quietAt = Number.NEGATIVE_INFINITY;
  #trailingQueued = false;

  constructor(
    private readonly store: Store,
    private readonly clock: Pick<Clock, 'now'>,
    private readonly wakeWorker: () => void = () => {},
  ) {}

  /** `true` when this hint queued a poll. */
  async hint(): Promise<boolean> {
    const now = this.clock.now();
    let runAt: number;
    if (now >= this.#quietAt) {
      this.#quietAt = now + HINT_GAP_MS;
      this.#trailingQueued = false;
      runAt = now;
    } else if (!this.#trailingQueued) {
      this.#trailingQueued = true;
      runAt = this.#quietAt;
    } else {
      return false;
    }
    const queued = await queueLifecyclePoll(this.store, runAt);
    if (queued) this.wakeWorker();
    return queued;
  }
}

type Fields = Map<string, unknown>;

/** The postback's fields: the query string's, then the body's (form-encoded, or JSON when it says so). */
async function readFields(c: Context): Promise<Fields> {
  const fields: Fields = new Map(new URL(c.req.url).searchParams);
  if (c.req.method !== 'POST') return fields;
  const body = await readBodyWithin(c, MAX_POSTBACK_BYTES);
  if (!body.ok) fail(413, 'too_large', `A postback body may hold at most ${MAX_POSTBACK_BYTES} bytes.`);
  if (body.text.trim() === '') return fields;
  if (/\bjson\b/i.test(c.req.header('content-type') ?? '')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.text);
    } catch {
      fail(400, 'bad_json', 'The postback body is not valid JSON.');
    }
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) fail(400, 'bad_json', 'The postback body must be a JSON object of fields.');
    for (const [key, value] of Object.entries(parsed)) fields.set(key, value);
    return fields;
  }
  for (const [key, value] of new URLSearchParams(body.text)) fields.set(key, value);
  return fields;
}

/** The first id field the postback carries (a string or a number, not empty). */
function namedRecord(fields: Fields): string | undefined {
  return RECORD_FIELDS.find((name) => {
    const value = fields.get(name);
    return (typeof value === 'string' && value.trim() !== '') || (typeof value === 'number' && Number.isFinite(value));
  });
}

export function postbackRoute({ config, store, logger, clock = systemClock, wakeWorker }: PostbackRouteDeps): Hono {
  const app = new Hono();
  const secret = config.lifecycle.postbackSecret;
  // No secret (or no sync): no route, so the path is a 404 like any unknown one.
  if (!secret || !config.lifecycle.enabled) return app;
  const isSecret = secretMatcher(secret);
  const hint = new PollHint(store, clock, wakeWorker);
  const limit = rateLimit({ perMinute: POSTBACKS_PER_MINUTE, keyOf: (c) => addressKey(clientIp(c, config.trustProxy)), clock });

  app.on(
    ['GET', 'POST'],
    `${POSTBACK_PATH}/:secret`,
    // First the secret: a wrong one is answered as an unknown path, before any limit could tell
    // the route exists.
    async function requireSecret(c, next) {
      if (!isSecret(c.req.param('secret'))) return c.notFound();
      await next();
    },
    limit,
    async function acceptPostback(c) {
      const record = namedRecord(await readFields(c));
      if (record === undefined) {
        fail(400, 'no_record', `A postback names its order: map orderId (or ${RECORD_FIELDS.slice(1).join(', ')}) in the Postback Export Profile.`);
      }
      const queued = await hint.hint();
      // The field's name only: a postback's values may be a buyer's.
      logger.debug({ record, queued }, 'konnektive postback: lifecycle poll hinted');
      return c.body(null, 200);
    },
  );
  return app;
}
