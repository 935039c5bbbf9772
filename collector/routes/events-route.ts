/**
 * @module events-route
 * `POST /v1/events`: the snippet's only endpoint. Checks, in order: origin, size, JSON, schema,
 * campaign, session token; then scrubs card numbers and hands the batch to the group committer.
 * Every rejection answers `{error:{code,message}}` and stores nothing.
 */
import { systemClock, type Clock } from '../clock.js';
import { Hono } from 'hono';
import { cardDropLabeller, scrubEvent } from '../card-filter.js';
import { isAllowedOrigin, type Config } from '../config.js';
import { botDetector } from '../http/bot-filter.js';
import { addressKey, clientIp } from '../http/client-ip.js';
import { cors } from '../http/cors.js';
import { fail } from '../http/errors.js';
import { ByteBudget, rateLimit } from '../http/rate-limit.js';
import { readBodyWithin } from '../http/read-body.js';
import type { GroupCommitter } from '../ingest/group-commit.js';
import type { IngestRequest } from '../ingest/apply-batch.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import { prefillUrl, recoveryLanding } from '../recovery/recovery-landing.js';
import { dropShortPhone } from '../session/lead-merge.js';
import type { Store } from '../store/store.js';
import { LINK_TOKEN_TTL_MS, newSessionId, sessionTokenFor, sessionVerifier, signLink, verifyLink } from '../tokens.js';
import { conversionEventIds, EventBatch, MAX_BODY_BYTES, type IngestResponse } from '../wire-schema.js';

export interface EventsRouteDeps {
  config: Config;
  secret: string;
  committer: GroupCommitter;
  metrics: Metrics;
  store: Store;
  logger: Logger;
  clock?: Clock;
}

export function eventsRoute({ config, secret, committer, metrics, store, logger, clock = systemClock }: EventsRouteDeps): Hono {
  const app = new Hono();
  const reject = (reason: string) => metrics.eventsRejected.inc({ reason });
  const isKnownBot = botDetector();
  const cardLabels = cardDropLabeller();
  // A returning visitor's token is verified once, then found (tokens.ts: its expiry still checked).
  const verifySessionToken = sessionVerifier(secret);
  // Parsing the origin as a URL on every request (twice: CORS, then the check) was measurable;
  // a funnel sends from a handful of origins. Bounded: a flood of made-up origins only evicts.
  const originVerdicts = new Map<string, boolean>();
  const originAllowed = (origin: string): boolean => {
    let verdict = originVerdicts.get(origin);
    if (verdict === undefined) {
      verdict = isAllowedOrigin(config, origin);
      if (originVerdicts.size >= 1_000) originVerdicts.delete(originVerdicts.keys().next().value as string);
      originVerdicts.set(origin, verdict);
    }
    return verdict;
  };

  // Both limits count per address, an IPv6 address by its /64 (a client holds a whole /64 and can
  // rotate through it). What one address may send per minute in bytes, beside the request limit.
  const bytes = new ByteBudget({
    bytesPerMinute: config.rateLimitBytesPerMinute,
    keyOf: (c) => addressKey(clientIp(c, config.trustProxy)),
    onLimited: () => reject('bytes_limited'),
    clock,
  });

  app.use(
    '/v1/events',
    cors({ isAllowed: originAllowed }),
    rateLimit({
      perMinute: config.rateLimitPerMinute,
      keyOf: (c) => addressKey(clientIp(c, config.trustProxy)),
      onLimited: () => reject('rate_limited'),
      clock,
    }),
    bytes.beforeBody,
    async function requireAllowedOrigin(c, next) {
      const origin = c.req.header('origin');
      if (!origin || !originAllowed(origin)) {
        reject('origin_not_allowed');
        fail(403, 'origin_not_allowed', 'This origin may not send events to this collector.');
      }
      await next();
    },
  );

  app.post('/v1/events', async (c) => {
    const contentType = (c.req.header('content-type') ?? 'text/plain').split(';')[0]!.trim().toLowerCase();
    if (contentType !== 'text/plain' && contentType !== 'application/json') {
      reject('unsupported_media_type');
      fail(415, 'unsupported_media_type', 'Send the batch as JSON with Content-Type text/plain or application/json.');
    }
    const read = await readBodyWithin(c, MAX_BODY_BYTES);
    if (!read.ok) {
      reject('body_too_large');
      fail(413, 'body_too_large', `The body is larger than ${MAX_BODY_BYTES} bytes.`);
    }
    const { text } = read;
    bytes.charge(c, Buffer.byteLength(text));
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      reject('malformed_json');
      fail(400, 'malformed_json', 'The body is not valid JSON.');
    }
    // The schema also refuses text a store cannot keep as sent (a NUL character, an unpaired
    // surrogate: wire-schema.ts, `storable`), naming the field; counted apart, as a lander sending
    // it would lose whole batches.
    const parsed = EventBatch.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      reject(issue.code === 'custom' && issue.params?.unstorable === true ? 'unstorable_text' : 'invalid_events');
      fail(400, 'invalid_events', `${issue.path.join('.') || 'body'}: ${issue.message}`);
    }
    const batch = parsed.data;

    const campaignId = batch.campaign ?? config.campaigns[0] ?? '1';
    if (config.campaigns.length > 0 && !config.campaigns.includes(campaignId)) {
      reject('campaign_not_allowed');
      fail(403, 'campaign_not_allowed', `Campaign ${campaignId} is not one this collector serves.`);
    }

    const receivedAt = clock.now();
    let mode: IngestRequest['mode'] = 'new';
    let sessionId = '';
    let given: { token: string; sessionId: string; expiresAt: number } | undefined;
    let link: IngestRequest['link'];
    let linkRefused = false;
    if (batch.session !== undefined) {
      const verified = verifySessionToken(batch.session, receivedAt);
      if (!verified.ok) {
        reject(verified.reason === 'expired' ? 'expired_session' : 'invalid_session');
        fail(401, 'invalid_session', verified.reason === 'expired' ? 'The session token has expired; start a new session.' : 'The session token is not valid; start a new session.');
      }
      mode = 'existing';
      sessionId = verified.sessionId;
      given = { token: batch.session, sessionId, expiresAt: verified.expiresAt };
    } else if (batch.link !== undefined) {
      const check = verifyLink(secret, batch.link, receivedAt);
      if (check.ok) {
        mode = 'adopt';
        sessionId = check.sessionId;
        link = { nonce: check.nonce, expiresAt: check.expiresAt, recovery: check.recovery === true };
      } else {
        linkRefused = true;
      }
    }
    if (mode === 'new') sessionId = newSessionId(receivedAt);

    for (const event of batch.events) {
      for (const drop of scrubEvent(event)) {
        if (drop.refused !== undefined) {
          // A card number in a value no event is valid without: nothing of the batch is stored.
          reject('invalid_events');
          fail(400, 'invalid_events', drop.refused);
        }
        metrics.cardNumbersDropped.inc(cardLabels(drop));
      }
      // A "phone" too short to be one is a security code or PIN typed into a field the page
      // labelled phone: kept out of the stored event too, not only out of the lead.
      if (event.type === 'lead') dropShortPhone(event.fields);
    }

    const userAgent = (c.req.header('user-agent') ?? '').slice(0, 500);
    const isBot = config.botFilter && isKnownBot(userAgent);
    const outcome = await committer.submit({
      mode,
      sessionId,
      campaignId,
      ip: clientIp(c, config.trustProxy),
      userAgent,
      isBot,
      events: batch.events,
      receivedAt,
      ...(link ? { link } : {}),
    });
    if (!outcome.ok && outcome.code === 'session_full') {
      // Nothing of the batch was stored; the snippet drops a batch refused with a 4xx.
      reject('session_full');
      fail(413, 'session_full', 'This session has stored as many events as one session may; nothing of this batch was stored.');
    }
    if (!outcome.ok) {
      reject('unknown_session');
      fail(401, 'invalid_session', 'The session is not known to this collector; start a new session.');
    }

    for (const [type, count] of Object.entries(outcome.acceptedByType)) metrics.eventsAccepted.inc({ type }, count);
    for (const [kind, count] of Object.entries(outcome.suppressed)) metrics.botCallsSuppressed.inc({ kind }, count);

    const linkExpires = receivedAt + LINK_TOKEN_TTL_MS;
    const { session } = outcome;
    // A crawler or a link scanner that runs scripts is no buyer coming back, and gets no fields.
    const restored = outcome.recovered && !isBot
      ? await recoveryLanding({ store, logger, config }, { recovered: outcome.recovered, pageViews: outcome.acceptedByType.page ?? 0, at: receivedAt })
      : undefined;
    const body: IngestResponse = {
      session: sessionTokenFor(secret, session.id, given, receivedAt, config.sessionTtlMs),
      link: signLink(secret, session.id, linkExpires),
      linkExpires,
      accepted: outcome.accepted,
      duplicates: outcome.duplicates,
      ...(linkRefused || outcome.linkRefused ? { linkRefused: true as const } : {}),
      ...(restored ? { prefill: prefillUrl(config, c.req.url, c.req.header('host')) } : {}),
      ids: {
        session: session.id,
        ...(session.konnektive.sessionId ? { konnektiveSession: session.konnektive.sessionId } : {}),
        ...(session.konnektive.orderId ? { orderId: session.konnektive.orderId } : {}),
        ...restored,
        eventIds: conversionEventIds(session.id),
      },
    };
    return c.json(body, 200);
  });

  return app;
}
