/**
 * @module config
 * The collector's configuration: read once from the environment (and a `.env` file), parsed with
 * zod into a frozen, typed object. Nothing else in the collector reads `process.env`.
 */
import { z } from 'zod';
import { parseDuration } from './duration.js';
import { DEFAULT_SESSION_MAX_BYTES, DEFAULT_SESSION_MAX_EVENTS } from './ingest/session-cap.js';
import { isTimeZone } from './lifecycle/day-windows.js';

const duration = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((text, ctx) => {
      const ms = parseDuration(text);
      if (ms === undefined) {
        ctx.addIssue({ code: 'custom', message: `expected a duration such as 90s, 30m or 2h, got "${text}"` });
        return z.NEVER;
      }
      return ms;
    });

const flag = (fallback: boolean) =>
  z
    .string()
    .optional()
    .transform((text, ctx) => {
      if (text === undefined || text === '') return fallback;
      const normalised = text.trim().toLowerCase();
      if (['1', 'true', 'on', 'yes'].includes(normalised)) return true;
      if (['0', 'false', 'off', 'no'].includes(normalised)) return false;
      ctx.addIssue({ code: 'custom', message: `expected on or off, got "${text}"` });
      return z.NEVER;
    });

const list = z
  .string()
  .optional()
  .transform((text) => (text ?? '').split(',').map((item) => item.trim()).filter(Boolean));

const optionalText = z
  .string()
  .optional()
  .transform((text) => (text === undefined || text.trim() === '' ? undefined : text.trim()));

/** An http(s) URL, kept as `part` of it; anything else is refused as not being `what`. */
const httpUrl = (part: 'origin' | 'href', what: string) =>
  z.string().transform((text, ctx) => {
    try {
      const url = new URL(text);
      if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('scheme');
      return url[part];
    } catch {
      ctx.addIssue({ code: 'custom', message: `"${text}" is not ${what}` });
      return z.NEVER;
    }
  });

const origin = httpUrl('origin', 'an http(s) origin');

/** A bare host name (`cdn.example`), kept as the URL parser writes it; a URL or a pattern is refused. */
const mediaHost = z.string().transform((text, ctx) => {
  try {
    if (/[/:@?#*\s]/.test(text)) throw new Error('not a host');
    const url = new URL(`https://${text}`);
    if (!url.hostname || url.hostname.startsWith('.')) throw new Error('not a host');
    return url.hostname.replace(/\.$/, '');
  } catch {
    ctx.addIssue({ code: 'custom', message: `"${text}" is not a host name: write it as cdn.example (its subdomains are included)` });
    return z.NEVER;
  }
});
const absoluteUrl = httpUrl('href', 'an absolute http(s) URL');

/**
 * An upstream API's URL (the calls carry its credentials): https, or plain http to this machine
 * only (127.0.0.0/8, ::1, localhost), as the test doubles are; never credentials in clear text
 * across a network.
 */
export function secureUpstream(text: string): boolean {
  const url = new URL(text);
  if (url.protocol === 'https:') return true;
  return url.protocol === 'http:' && (url.hostname === 'localhost' || url.hostname === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(url.hostname));
}
const SECURE_UPSTREAM = { message: 'must be an https:// URL (plain http:// only to this machine: localhost, 127.0.0.1, [::1]), so that the credentials never cross the network in clear text' };

export const EnvSchema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(8787),
  // Default 0.0.0.0, or 127.0.0.1 in sandbox mode (see parseConfig): a first run is this machine's only.
  HOST: optionalText,
  PUBLIC_URL: origin.default('http://localhost:8787'),
  DATABASE_URL: z
    .string()
    .default('file:./data/funnelbeacon.db')
    .refine((url) => url.startsWith('file:') || /^postgres(ql)?:\/\//.test(url), {
      message: 'expected file:PATH or postgres://...',
    }),
  SECRET: optionalText.refine((secret) => secret === undefined || secret.length >= 32, {
    message: 'must be at least 32 characters',
  }),
  ALLOWED_ORIGINS: list.pipe(z.array(origin)),
  KONNEKTIVE_LOGIN_ID: optionalText.refine((v) => v === undefined || v.length <= 32, { message: 'at most 32 characters' }),
  KONNEKTIVE_PASSWORD: optionalText.refine((v) => v === undefined || (v.length <= 32 && !v.includes('&')), {
    message: 'at most 32 characters and no "&" (Konnektive rejects such API passwords)',
  }),
  KONNEKTIVE_API_URL: origin.default('https://api.konnektive.com').refine(secureUpstream, SECURE_UPSTREAM),
  KONNEKTIVE_CAMPAIGNS: list.pipe(z.array(z.string().regex(/^\d{1,10}$/, 'campaign ids are numbers'))),
  EMIT_VIA: z.enum(['konnektive', 'activecampaign', 'sandbox']).optional(),
  ACTIVECAMPAIGN_API_URL: optionalText.pipe(z.url().optional()).refine((url) => url === undefined || secureUpstream(url), SECURE_UPSTREAM),
  ACTIVECAMPAIGN_API_KEY: optionalText,
  ACTIVECAMPAIGN_CONNECTION_ID: optionalText.pipe(z.string().regex(/^\d+$/, 'expected a numeric id').optional()),
  ACTIVECAMPAIGN_RATE_LIMIT: z.coerce.number().positive().max(100).default(5),
  /** Event tracking (lifecycle events): Settings → Tracking → Event Tracking shows both. */
  ACTIVECAMPAIGN_ACCOUNT_ID: optionalText.pipe(z.string().regex(/^\d+$/, 'expected the numeric account id (actid) that Event Tracking shows').optional()),
  ACTIVECAMPAIGN_EVENT_KEY: optionalText,
  ACTIVECAMPAIGN_EVENTS_URL: optionalText.pipe(z.url().optional()).refine((url) => url === undefined || secureUpstream(url), SECURE_UPSTREAM),
  /** Prefix of the lifecycle tags (`fb-customer`, `fb-past-due`, ...). */
  LIFECYCLE_TAG_PREFIX: z
    .string()
    .default('fb-')
    .refine((prefix) => prefix.length <= 32 && !/[\u0000-\u001f,]/.test(prefix), { message: 'at most 32 characters, without commas or control characters' }),
  // Default 30m, or 2m in sandbox mode (see parseConfig) so a first run shows a cart within minutes.
  ABANDON_AFTER: duration('30m'),
  UPSELL_WINDOW: duration('15m'),
  SWEEP_EVERY: duration('30s'),
  DASHBOARD_TOKEN: optionalText.refine((token) => token === undefined || token.length >= 16, {
    message: 'must be at least 16 characters (a long random string)',
  }),
  TRUST_PROXY: flag(false),
  /** `allow`: TRUST_PROXY with a HOST others can reach, for a proxy on another machine (see below). */
  TRUST_PROXY_DIRECT_ACCESS: optionalText.pipe(z.enum(['allow', 'refuse']).optional()),
  BOT_FILTER: flag(true),
  RETENTION_DAYS: z.coerce.number().int().min(1).max(3650).default(30),
  RETENTION_EVERY: duration('1h'),
  LOG_LEVEL: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
  RATE_LIMIT_PER_MINUTE: z.coerce.number().int().positive().default(600),
  // Per address, beside the request limit: what one client may write. 4 MiB a minute is about
  // 2,700 ordinary requests (page views and lead updates weigh about 1.5 KB), more than the request
  // limit lets through; a client sending 64 KiB bodies reaches it at 64 requests a minute.
  RATE_LIMIT_BYTES_PER_MINUTE: z.coerce.number().int().positive().default(4 * 1024 * 1024),
  SESSION_MAX_EVENTS: z.coerce.number().int().positive().default(DEFAULT_SESSION_MAX_EVENTS),
  SESSION_MAX_BYTES: z.coerce.number().int().positive().default(DEFAULT_SESSION_MAX_BYTES),
  KONNEKTIVE_PROBE_EVERY: duration('60s'),
  OUTBOX_LEASE: duration('60s'),
  /** Upstream calls in flight at once, per upstream and per collector (collector/outbox/relay-lane.ts). */
  RELAY_CONCURRENCY: z.coerce.number().int().min(1).max(1024).default(32),
  /** Read only to tell whether `serve` got its memory flags (collector/node-flags.ts). */
  NODE_OPTIONS: optionalText,
  RECOVERY_LINK_TTL: duration('7d'),
  SESSION_TTL: duration('30d'),
  RECOVERY_DONE_URL: optionalText.pipe(absoluteUrl.optional()),
  RECOVERY_FALLBACK_URL: optionalText.pipe(absoluteUrl.optional()),
  /** The owner's product list (collector/catalogue/product-file.ts); else Konnektive's campaign products. */
  PRODUCTS_FILE: optionalText,
  /** Affiliate postbacks (collector/postbacks/postback-file.ts): none unless set. */
  POSTBACKS_FILE: optionalText,
  /** Delivery accuracy alerts (collector/accuracy/alerts.ts): the floor, where to post, how often to look. */
  ALERT_ACCURACY: z.coerce.number().gt(0, { message: 'must be above 0 (a share: 0.95 is 95%)' }).max(1, { message: 'must be at most 1 (a share: 0.95 is 95%)' }).default(0.95),
  ALERT_WEBHOOK_URL: optionalText.pipe(z.url().refine(secureUpstream, { message: 'must be an https:// URL (plain http:// only to this machine: localhost, 127.0.0.1, [::1])' }).optional()),
  ALERT_EVERY: duration('5m'),
  PRODUCT_MEDIA_HOSTS: list.pipe(z.array(mediaHost)),
  /** Lifecycle sync (collector/lifecycle/): off unless asked for. */
  LIFECYCLE_SYNC: flag(false),
  LIFECYCLE_POLL_EVERY: duration('5m').refine((ms) => ms >= 30_000, { message: 'at least 30s (each poll reads three Konnektive queries)' }),
  LIFECYCLE_LOOKBACK_DAYS: z.coerce.number().int().min(1).max(31).default(2),
  /** The last part of the postback URL Konnektive calls (`/v1/konnektive/postback/<secret>`). */
  LIFECYCLE_POSTBACK_SECRET: optionalText.refine((secret) => secret === undefined || /^[A-Za-z0-9._~-]{16,}$/.test(secret), {
    message: 'must be at least 16 characters of letters, digits, "-", "_", "." or "~" (it is part of a URL; e.g. openssl rand -hex 24)',
  }),
  /** Meta's Conversions API (collector/conversions/): on when both the pixel id and the token are set. */
  META_PIXEL_ID: optionalText.pipe(z.string().regex(/^\d{1,20}$/, "expected the pixel's numeric id (Events Manager shows it)").optional()),
  META_ACCESS_TOKEN: optionalText,
  /** The Graph API base including its version; the collector adds `/<pixel id>/events`. */
  META_API_URL: z.url().default('https://graph.facebook.com/v25.0').refine(secureUpstream, SECURE_UPSTREAM),
  META_TEST_EVENT_CODE: optionalText.pipe(z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, "expected the code Events Manager's Test Events tab shows (e.g. TEST12345)").optional()),
  /** TikTok's Events API: on when both the pixel code and the token are set. */
  TIKTOK_PIXEL_CODE: optionalText.pipe(z.string().regex(/^[A-Za-z0-9]{6,40}$/, "expected the pixel code Events Manager shows (letters and digits)").optional()),
  TIKTOK_ACCESS_TOKEN: optionalText,
  /** TikTok's API host; the collector adds `/open_api/v1.3/event/track/`. */
  TIKTOK_API_URL: origin.default('https://business-api.tiktok.com').refine(secureUpstream, SECURE_UPSTREAM),
  TIKTOK_TEST_EVENT_CODE: optionalText.pipe(z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, "expected the code TikTok Events Manager's Test Events tab shows").optional()),
  KONNEKTIVE_TIMEZONE: z
    .string()
    .default('America/New_York')
    .refine(isTimeZone, { message: 'expected an IANA time zone such as America/New_York (the Konnektive account\'s zone)' }),
});

export type EmitVia = 'konnektive' | 'activecampaign' | 'sandbox';

export interface Config {
  readonly port: number;
  readonly host: string;
  readonly publicUrl: string;
  readonly databaseUrl: string;
  /** Sandbox mode: no upstream credentials at all; every upstream call is recorded, none is sent. */
  readonly sandbox: boolean;
  /** Undefined only in sandbox mode, where one is generated and kept in the store. */
  readonly secret: string | undefined;
  readonly allowedOrigins: readonly string[];
  readonly konnektive:
    | { readonly loginId: string; readonly password: string; readonly apiUrl: string }
    | undefined;
  readonly campaigns: readonly string[];
  readonly emitVia: EmitVia;
  readonly activeCampaign:
    | { readonly apiUrl: string; readonly apiKey: string; readonly connectionId: string | undefined }
    | undefined;
  readonly activeCampaignRatePerSecond: number;
  /** ActiveCampaign's event tracking, when both its account id and event key are set. */
  readonly activeCampaignEvents: { readonly accountId: string; readonly eventKey: string; readonly eventsUrl: string } | undefined;
  readonly abandonAfterMs: number;
  readonly upsellWindowMs: number;
  readonly sweepEveryMs: number;
  readonly dashboardToken: string | undefined;
  readonly trustProxy: boolean;
  readonly botFilter: boolean;
  readonly retentionDays: number;
  /** How often the retention purge runs (its first run comes at most a minute after start). */
  readonly retentionEveryMs: number;
  readonly logLevel: z.infer<typeof EnvSchema>['LOG_LEVEL'];
  /** Ingest requests allowed per client IP per minute. */
  readonly rateLimitPerMinute: number;
  /** `RATE_LIMIT_BYTES_PER_MINUTE`: request bodies one address may send to the ingest route per minute. */
  readonly rateLimitBytesPerMinute: number;
  /** What one session may store (ingest/session-cap.ts): events, and bytes of their stored payloads. */
  readonly sessionMaxEvents: number;
  readonly sessionMaxBytes: number;
  /** How often a paused Konnektive relay checks whether its credentials work again. */
  readonly konnektiveProbeEveryMs: number;
  /**
   * How long a worker holds a claimed job before another collector may take it over: the time a
   * dead collector's jobs wait. Long enough for the slowest upstream call (running rounds renew it).
   */
  readonly outboxLeaseMs: number;
  /**
   * Jobs each upstream's relay runs at once in this collector: Konnektive's and ActiveCampaign's
   * places are apart, so one upstream's slow answers or rate limit never holds the other's.
   */
  readonly relayConcurrency: number;
  /** Node's own NODE_OPTIONS, as the process was started with it. */
  readonly nodeOptions: string | undefined;
  /**
   * How long a session token works after it was handed out; a buyer who comes back is handed a
   * renewed one, so only a token left unused this long stops working (the next page starts anew).
   */
  readonly sessionTtlMs: number;
  /** `PRODUCTS_FILE`: where a CART's products come from when set (else Konnektive's campaign products). */
  readonly productsFile: string | undefined;
  /** `POSTBACKS_FILE`: the affiliate postbacks' JSON file, when set. */
  readonly postbacksFile: string | undefined;
  /** Delivery accuracy alerts: `ALERT_ACCURACY` (a share in (0, 1]), `ALERT_WEBHOOK_URL` (Slack or Discord incoming webhook), `ALERT_EVERY`. */
  readonly alerts: { readonly accuracy: number; readonly webhookUrl: string | undefined; readonly everyMs: number };
  /** `PRODUCT_MEDIA_HOSTS`: hosts (and their subdomains) a page's product image and link may be on. */
  readonly productMediaHosts: readonly string[];
  /** Recovery links (a CART's `orderUrl`): their lifetime, and where they lead once paid or invalid. */
  readonly recovery: {
    readonly linkTtlMs: number;
    readonly doneUrl: string | undefined;
    readonly fallbackUrl: string | undefined;
  };
  /**
   * Lifecycle sync: whether it runs, how often Konnektive is read, how many days before today
   * each read covers, and the account's time zone (Konnektive's whole-day windows are in it).
   */
  readonly lifecycle: {
    readonly enabled: boolean;
    readonly pollEveryMs: number;
    readonly lookbackDays: number;
    readonly timeZone: string;
    /** `LIFECYCLE_TAG_PREFIX`: the lifecycle tags are this followed by `customer`, `past-due`, ... */
    readonly tagPrefix: string;
    /** `LIFECYCLE_POSTBACK_SECRET`: when set, Konnektive's postbacks to `/v1/konnektive/postback/<it>` start a poll at once. */
    readonly postbackSecret?: string | undefined;
  };
  /**
   * The ad platforms conversions go to (collector/conversions/), each when its credentials are
   * set. In sandbox mode both are recorded, never sent.
   */
  readonly adPlatforms: {
    readonly meta: { readonly pixelId: string; readonly accessToken: string; readonly apiUrl: string; readonly testEventCode: string | undefined } | undefined;
    readonly tiktok: { readonly pixelCode: string; readonly accessToken: string; readonly apiUrl: string; readonly testEventCode: string | undefined } | undefined;
  };
}

export type ConfigResult = { ok: true; config: Config } | { ok: false; problems: string[] };

const SANDBOX_ORIGINS = ['http://localhost', 'http://127.0.0.1'];
/**
 * Sandbox mode's default HOST: the open dashboard, the demo and its recorded recovery links are
 * for this machine, so a first `npm start` is not reachable from the network at all.
 */
export const SANDBOX_HOST = '127.0.0.1';
/** Sandbox mode's default ABANDON_AFTER: a newcomer sees the abandoned cart within minutes. */
export const SANDBOX_ABANDON_AFTER_MS = 2 * 60_000;

/** ActiveCampaign's event tracking endpoint (`ACTIVECAMPAIGN_EVENTS_URL` replaces it, e.g. for tests). */
export const DEFAULT_EVENTS_URL = 'https://trackcmp.net/event';

/** ActiveCampaign shows the account URL without `/api/3`; accept it either way. */
function activeCampaignBase(url: string): string {
  return url.replace(/\/+$/, '').replace(/\/api\/3$/, '') + '/api/3';
}

/**
 * Parses an environment into a {@link Config}. Pure: the caller decides where the environment
 * comes from and what to do with the problems (the CLI prints one line each and exits).
 */
export function parseConfig(env: Record<string, string | undefined>): ConfigResult {
  const parsed = EnvSchema.safeParse(env);
  if (!parsed.success) {
    return {
      ok: false,
      problems: parsed.error.issues.map((issue) => `${issue.path.join('.') || 'config'}: ${issue.message}`),
    };
  }
  const e = parsed.data;
  const problems: string[] = [];

  const konnektive =
    e.KONNEKTIVE_LOGIN_ID && e.KONNEKTIVE_PASSWORD
      ? { loginId: e.KONNEKTIVE_LOGIN_ID, password: e.KONNEKTIVE_PASSWORD, apiUrl: e.KONNEKTIVE_API_URL }
      : undefined;
  if (Boolean(e.KONNEKTIVE_LOGIN_ID) !== Boolean(e.KONNEKTIVE_PASSWORD)) {
    problems.push(`${e.KONNEKTIVE_LOGIN_ID ? 'KONNEKTIVE_PASSWORD' : 'KONNEKTIVE_LOGIN_ID'}: set both KONNEKTIVE_LOGIN_ID and KONNEKTIVE_PASSWORD, or neither`);
  }
  const activeCampaign =
    e.ACTIVECAMPAIGN_API_URL && e.ACTIVECAMPAIGN_API_KEY
      ? {
          apiUrl: activeCampaignBase(e.ACTIVECAMPAIGN_API_URL),
          apiKey: e.ACTIVECAMPAIGN_API_KEY,
          connectionId: e.ACTIVECAMPAIGN_CONNECTION_ID,
        }
      : undefined;
  const sandbox = !konnektive && !activeCampaign;
  const emitVia: EmitVia = e.EMIT_VIA ?? (konnektive ? 'konnektive' : 'sandbox');

  if (emitVia === 'konnektive' && !konnektive) {
    problems.push('EMIT_VIA: "konnektive" needs KONNEKTIVE_LOGIN_ID and KONNEKTIVE_PASSWORD');
  }
  if (emitVia === 'activecampaign' && !activeCampaign) {
    problems.push('EMIT_VIA: "activecampaign" needs ACTIVECAMPAIGN_API_URL and ACTIVECAMPAIGN_API_KEY');
  }
  if (emitVia === 'activecampaign' && !konnektive) {
    // Orders are verified and purchases rechecked with Konnektive; without it an ORDER would rest
    // on what the browser claims, and a CART could go to someone who paid.
    problems.push('KONNEKTIVE_LOGIN_ID: EMIT_VIA=activecampaign needs the Konnektive credentials too (orders are verified with Konnektive)');
  }
  if (!sandbox && !e.SECRET) problems.push('SECRET: required outside sandbox mode (at least 32 random characters)');
  if (!sandbox && e.ALLOWED_ORIGINS.length === 0) {
    problems.push('ALLOWED_ORIGINS: required outside sandbox mode (comma-separated lander origins)');
  }
  if (konnektive && e.KONNEKTIVE_CAMPAIGNS.length === 0) {
    problems.push('KONNEKTIVE_CAMPAIGNS: required with Konnektive credentials (comma-separated campaign ids)');
  }
  if (Boolean(e.ACTIVECAMPAIGN_ACCOUNT_ID) !== Boolean(e.ACTIVECAMPAIGN_EVENT_KEY)) {
    problems.push(`${e.ACTIVECAMPAIGN_ACCOUNT_ID ? 'ACTIVECAMPAIGN_EVENT_KEY' : 'ACTIVECAMPAIGN_ACCOUNT_ID'}: event tracking needs both ACTIVECAMPAIGN_ACCOUNT_ID and ACTIVECAMPAIGN_EVENT_KEY, or neither`);
  }
  // In sandbox mode the sync runs against sandbox Konnektive (the demo's rows) and records its calls.
  if (e.LIFECYCLE_SYNC && !activeCampaign && !sandbox) {
    problems.push('LIFECYCLE_SYNC: lifecycle sync needs ACTIVECAMPAIGN_API_URL and ACTIVECAMPAIGN_API_KEY');
  }
  if (e.LIFECYCLE_SYNC && !konnektive && !sandbox) {
    problems.push('LIFECYCLE_SYNC: lifecycle sync reads Konnektive and needs KONNEKTIVE_LOGIN_ID and KONNEKTIVE_PASSWORD');
  }
  if (e.LIFECYCLE_POSTBACK_SECRET && !e.LIFECYCLE_SYNC) {
    // A postback only makes the lifecycle poll run sooner: without the sync it would be a public
    // URL that answers Konnektive and does nothing, and the owner would believe the push works.
    problems.push('LIFECYCLE_POSTBACK_SECRET: postbacks start the lifecycle poll early and need LIFECYCLE_SYNC=on');
  }
  if (Boolean(e.META_PIXEL_ID) !== Boolean(e.META_ACCESS_TOKEN)) {
    problems.push(`${e.META_PIXEL_ID ? 'META_ACCESS_TOKEN' : 'META_PIXEL_ID'}: Meta's Conversions API needs both META_PIXEL_ID and META_ACCESS_TOKEN, or neither`);
  }
  if (Boolean(e.TIKTOK_PIXEL_CODE) !== Boolean(e.TIKTOK_ACCESS_TOKEN)) {
    problems.push(`${e.TIKTOK_PIXEL_CODE ? 'TIKTOK_ACCESS_TOKEN' : 'TIKTOK_PIXEL_CODE'}: TikTok's Events API needs both TIKTOK_PIXEL_CODE and TIKTOK_ACCESS_TOKEN, or neither`);
  }
  if (problems.length > 0) return { ok: false, problems };

  const config: Config = {
    port: e.PORT,
    host: e.HOST ?? (sandbox ? SANDBOX_HOST : '0.0.0.0'),
    publicUrl: sandboxPublicUrl(sandbox, env.PUBLIC_URL, e.PORT) ?? e.PUBLIC_URL,
    databaseUrl: e.DATABASE_URL,
    sandbox,
    secret: e.SECRET,
    allowedOrigins: Object.freeze(e.ALLOWED_ORIGINS.length > 0 ? e.ALLOWED_ORIGINS : SANDBOX_ORIGINS),
    konnektive: konnektive && Object.freeze(konnektive),
    campaigns: Object.freeze(e.KONNEKTIVE_CAMPAIGNS),
    emitVia,
    activeCampaign: activeCampaign && Object.freeze(activeCampaign),
    activeCampaignRatePerSecond: e.ACTIVECAMPAIGN_RATE_LIMIT,
    activeCampaignEvents:
      e.ACTIVECAMPAIGN_ACCOUNT_ID && e.ACTIVECAMPAIGN_EVENT_KEY
        ? Object.freeze({ accountId: e.ACTIVECAMPAIGN_ACCOUNT_ID, eventKey: e.ACTIVECAMPAIGN_EVENT_KEY, eventsUrl: e.ACTIVECAMPAIGN_EVENTS_URL ?? DEFAULT_EVENTS_URL })
        : undefined,
    abandonAfterMs: sandbox && !env.ABANDON_AFTER?.trim() ? SANDBOX_ABANDON_AFTER_MS : e.ABANDON_AFTER,
    upsellWindowMs: e.UPSELL_WINDOW,
    sweepEveryMs: e.SWEEP_EVERY,
    dashboardToken: e.DASHBOARD_TOKEN,
    trustProxy: e.TRUST_PROXY,
    botFilter: e.BOT_FILTER,
    retentionDays: e.RETENTION_DAYS,
    retentionEveryMs: e.RETENTION_EVERY,
    logLevel: e.LOG_LEVEL,
    rateLimitPerMinute: e.RATE_LIMIT_PER_MINUTE,
    rateLimitBytesPerMinute: e.RATE_LIMIT_BYTES_PER_MINUTE,
    sessionMaxEvents: e.SESSION_MAX_EVENTS,
    sessionMaxBytes: e.SESSION_MAX_BYTES,
    konnektiveProbeEveryMs: e.KONNEKTIVE_PROBE_EVERY,
    outboxLeaseMs: e.OUTBOX_LEASE,
    relayConcurrency: e.RELAY_CONCURRENCY,
    nodeOptions: e.NODE_OPTIONS,
    sessionTtlMs: e.SESSION_TTL,
    productsFile: e.PRODUCTS_FILE,
    postbacksFile: e.POSTBACKS_FILE,
    alerts: Object.freeze({ accuracy: e.ALERT_ACCURACY, webhookUrl: e.ALERT_WEBHOOK_URL, everyMs: e.ALERT_EVERY }),
    productMediaHosts: Object.freeze(e.PRODUCT_MEDIA_HOSTS),
    recovery: Object.freeze({ linkTtlMs: e.RECOVERY_LINK_TTL, doneUrl: e.RECOVERY_DONE_URL, fallbackUrl: e.RECOVERY_FALLBACK_URL }),
    lifecycle: Object.freeze({
      enabled: e.LIFECYCLE_SYNC,
      pollEveryMs: e.LIFECYCLE_POLL_EVERY,
      lookbackDays: e.LIFECYCLE_LOOKBACK_DAYS,
      timeZone: e.KONNEKTIVE_TIMEZONE,
      tagPrefix: e.LIFECYCLE_TAG_PREFIX,
      postbackSecret: e.LIFECYCLE_POSTBACK_SECRET,
    }),
    adPlatforms: Object.freeze({
      meta:
        e.META_PIXEL_ID && e.META_ACCESS_TOKEN
          ? Object.freeze({ pixelId: e.META_PIXEL_ID, accessToken: e.META_ACCESS_TOKEN, apiUrl: e.META_API_URL.replace(/\/+$/, ''), testEventCode: e.META_TEST_EVENT_CODE })
          : undefined,
      tiktok:
        e.TIKTOK_PIXEL_CODE && e.TIKTOK_ACCESS_TOKEN
          ? Object.freeze({ pixelCode: e.TIKTOK_PIXEL_CODE, accessToken: e.TIKTOK_ACCESS_TOKEN, apiUrl: e.TIKTOK_API_URL, testEventCode: e.TIKTOK_TEST_EVENT_CODE })
          : undefined,
    }),
  };
  // With TRUST_PROXY, X-Forwarded-For names the client: anyone who reaches the collector without
  // going through the proxy could write any address there and step around every per-IP limit.
  if (config.trustProxy && !isLoopbackHost(config.host) && e.TRUST_PROXY_DIRECT_ACCESS !== 'allow') {
    return {
      ok: false,
      problems: [
        `TRUST_PROXY: on with HOST=${config.host} lets a client that reaches the collector directly choose its IP in X-Forwarded-For; set HOST=127.0.0.1 (a proxy on this machine), or TRUST_PROXY_DIRECT_ACCESS=allow when only your proxy can reach this port (firewall, private network)`,
      ],
    };
  }
  return { ok: true, config: Object.freeze(config) };
}

/** A HOST that only this machine can reach. */
function isLoopbackHost(host: string): boolean {
  const name = host.toLowerCase().replace(/^\[|\]$/g, '');
  return name === 'localhost' || name === '::1' || /^127\.\d+\.\d+\.\d+$/.test(name);
}

/**
 * Sandbox mode without PUBLIC_URL: the collector on this machine at its own PORT, so that the
 * recovery links and the banner follow `PORT=9000`. PORT 0 (a port the system picks) has no
 * origin to name before listening, so it keeps the default; so does an explicit PUBLIC_URL.
 */
function sandboxPublicUrl(sandbox: boolean, given: string | undefined, port: number): string | undefined {
  if (!sandbox || given?.trim() || port === 0) return undefined;
  return `http://localhost:${port}`;
}

/**
 * Whether an origin may send events. In sandbox mode any port of localhost or 127.0.0.1 is
 * allowed, so the demo and local landers work without configuration.
 */
export function isAllowedOrigin(config: Config, requestOrigin: string): boolean {
  let parsed: URL;
  try {
    parsed = new URL(requestOrigin);
  } catch {
    return false;
  }
  return config.allowedOrigins.some((allowed) => {
    if (allowed === parsed.origin) return true;
    return config.sandbox && SANDBOX_ORIGINS.includes(allowed) && `${parsed.protocol}//${parsed.hostname}` === allowed;
  });
}
