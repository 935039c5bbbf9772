/**
 * @module api-schema
 * The dashboard API's contract, defined once with zod: what each endpoint accepts (validated at
 * the edge; bad input is a 400 that changes nothing) and what it answers (checked before it is
 * sent, and by the tests). The Preact UI imports the inferred types only.
 */
import { z } from 'zod';
import { UPSTREAMS } from '../upstreams.js';
import { PAGE_NAMES, storableText } from '../wire-schema.js';
import { SOURCE_DIMENSIONS } from './sources.js';

const MAX_SPAN_MS = 400 * 86_400_000;
const instant = z.coerce.number().int().min(0).max(8_640_000_000_000);

/** A period [from, to) in ms since the epoch, at most 400 days long. */
export const RangeQuery = z
  .object({ from: instant, to: instant })
  .refine((range) => range.to > range.from, { message: '`to` must be after `from`' })
  .refine((range) => range.to - range.from <= MAX_SPAN_MS, { message: 'a period is at most 400 days' });

export const SourcesQuery = z.object({ from: instant, to: instant, dim: z.enum(SOURCE_DIMENSIONS) }).refine((q) => q.to > q.from && q.to - q.from <= MAX_SPAN_MS, {
  message: '`to` must be after `from`, at most 400 days later',
});

export const SessionsQuery = z.object({
  // A NUL or an unpaired surrogate is a 400 on both stores (PostgreSQL cannot compare with one).
  q: storableText(z.string().trim().min(1).max(255)).optional(),
  before: instant.optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
});

/** A page of the sandbox's requests: those recorded before attempt `before`, newest first. */
export const SandboxRequestsQuery = z.object({
  before: z.coerce.number().int().positive().optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
});

export const SessionIdParam = z.string().min(1).max(100).regex(/^[A-Za-z0-9_-]+$/, 'not a session id');

export const ReplayBody = z.object({ id: z.number().int().positive() }).strict();

const count = z.number().int().min(0);
const rate = z.number().min(0).nullable();

export const FiguresSchema = z.object({
  visitors: count,
  steps: z.object(Object.fromEntries(PAGE_NAMES.map((page) => [page, count])) as Record<(typeof PAGE_NAMES)[number], typeof count>),
  leads: count,
  converted: count,
  carts: count,
  cartCents: count,
  recovered: count,
  recoveredCents: count,
  recoveredByLink: count,
  recoveredByLinkCents: count,
  unrecovered: count,
  recoveryClicks: count,
  orders: count,
  orderCents: count,
  upsellSeen: count,
  upsellTaken: count,
});

export const DerivedSchema = z.object({
  salesConversion: rate,
  visitorConversion: rate,
  averageOrderCents: rate,
  revenuePerVisitorCents: rate,
  upsellTakeRate: rate,
  recoveryRate: rate,
});

export const FunnelStepSchema = z.object({
  step: z.enum(PAGE_NAMES),
  visitors: count,
  /** Share of the first step's visitors who reached this one. */
  ofFirst: rate,
  /** Share of the previous step's visitors who did not reach this one. */
  dropOff: rate,
});

export const PeriodSchema = z.object({
  from: z.number(),
  to: z.number(),
  figures: FiguresSchema.extend({ lost: count }),
  derived: DerivedSchema,
  funnel: z.array(FunnelStepSchema),
});

/** The currencies of the carts and orders of the period(s) shown; more than one means amounts were added across currencies. */
const currencies = z.array(z.string());

/** What happened after the order in a period (dashboard/lifecycle-figures.ts); amounts of all currencies added. */
export const LifecyclePeriodSchema = z.object({
  sales: count,
  salesCents: count,
  saleDeclines: count,
  rebills: count,
  rebillCents: count,
  rebillDeclines: count,
  recoveredRebills: count,
  recoveredRebillCents: count,
  cancellations: count,
  pauses: count,
  refunds: count,
  refundCents: count,
  chargebacks: count,
  chargebackCents: count,
  /** Known for a period that ends now only (statuses are kept as last seen). */
  activeSubscribers: count.nullable(),
  /** Sales + rebills − refunds − chargebacks: below 0 when more was given back than taken. */
  netCents: z.number().int(),
});

export const LifecycleOverviewSchema = z.object({
  /** Whether LIFECYCLE_SYNC is on (the figures are shown too when it is off but events were stored). */
  enabled: z.boolean(),
  /** The currencies of the lifecycle amounts of both periods; more than one means they were added. */
  currencies,
  current: LifecyclePeriodSchema,
  previous: LifecyclePeriodSchema,
});

export const OverviewResponse = z.object({
  currency: z.string().length(3),
  currencies,
  /** After the order: null when the lifecycle sync is off and has stored nothing. */
  lifecycle: LifecycleOverviewSchema.nullable(),
  /** What the lifecycle sync needs to run, when it cannot (e.g. ActiveCampaign's API settings). */
  lifecycleNote: z.string().nullable(),
  /** Hours whose figures are still being recomputed (the numbers may be a little behind). */
  pendingHours: count,
  generatedAt: z.number(),
  current: PeriodSchema,
  previous: PeriodSchema,
});

export const SourcesResponse = z.object({
  dim: z.enum(SOURCE_DIMENSIONS),
  currency: z.string().length(3),
  currencies,
  rows: z.array(z.object({ value: z.string(), figures: FiguresSchema.extend({ lost: count }), derived: DerivedSchema })),
});

/** What both the sessions list and one session's page say of a session. */
const sessionBase = z.object({ id: z.string(), createdAt: z.number(), lastSeenAt: z.number(), state: z.string(), lastPage: z.string().nullable(), device: z.string() });

export const SessionListResponse = z.object({
  sessions: z.array(
    sessionBase.extend({
      email: z.string().nullable(),
      phone: z.string().nullable(),
      orderId: z.string().nullable(),
      affId: z.string().nullable(),
      cartCents: z.number().nullable(),
      currency: z.string().nullable(),
    }),
  ),
});

const item = z.object({ id: z.string(), name: z.string().optional(), price: z.number(), qty: z.number() });

export const TimelineEntrySchema = z.discriminatedUnion('kind', [
  z.object({ at: z.number(), kind: z.literal('page'), page: z.string(), url: z.string(), referrer: z.string().optional() }),
  z.object({ at: z.number(), kind: z.literal('lead'), fields: z.record(z.string(), z.string()) }),
  z.object({ at: z.number(), kind: z.literal('cart'), items: z.array(item), currency: z.string() }),
  z.object({ at: z.number(), kind: z.literal('order'), orderId: z.string() }),
  z.object({ at: z.number(), kind: z.literal('exit') }),
  z.object({ at: z.number(), kind: z.literal('attribution'), marketing: z.boolean(), values: z.record(z.string(), z.string()) }),
  z.object({ at: z.number(), kind: z.literal('state'), state: z.string() }),
  z.object({ at: z.number(), kind: z.literal('recovery-click'), count: z.number() }),
  z.object({ at: z.number(), kind: z.literal('recovery-return') }),
  z.object({
    at: z.number(),
    kind: z.literal('upstream'),
    jobId: z.number(),
    upstream: z.enum(UPSTREAMS),
    endpoint: z.string(),
    request: z.string(),
    response: z.string(),
    outcome: z.string(),
    httpStatus: z.number().nullable(),
    latencyMs: z.number(),
  }),
]);

export const SessionDetailResponse = z.object({
  session: sessionBase.extend({
    campaignId: z.string(),
    landingUrl: z.string().nullable(),
    referrer: z.string().nullable(),
    userAgent: z.string(),
    lead: z.record(z.string(), z.string()),
    cart: z.object({ items: z.array(item), currency: z.string() }).nullable(),
    claimedOrderId: z.string().nullable(),
    konnektive: z.object({ sessionId: z.string().nullable(), orderId: z.string().nullable(), customerId: z.string().nullable() }),
    orderCheck: z.object({ verified: z.boolean(), reason: z.string().nullable(), totalCents: z.number().nullable(), currency: z.string().nullable() }).nullable(),
    sources: z.record(z.string(), z.string()),
    recovers: z.string().nullable(),
    returns: z.array(z.string()),
  }),
  emissions: z.array(z.object({ kind: z.string(), status: z.string(), remoteId: z.string().nullable(), createdAt: z.number(), updatedAt: z.number() })),
  jobs: z.array(
    z.object({
      id: z.number(),
      upstream: z.enum(UPSTREAMS),
      kind: z.string(),
      state: z.enum(['pending', 'running', 'done', 'dead']),
      attempts: z.number(),
      lastError: z.string().nullable(),
      createdAt: z.number(),
    }),
  ),
  timeline: z.array(TimelineEntrySchema),
  /** After the order: the lifecycle sync's events of the lead's email (the latest 50), oldest first. */
  lifecycle: z.array(
    z.object({
      id: z.string(),
      kind: z.string(),
      occurredAt: z.string(),
      foundAt: z.number(),
      amountCents: z.number().nullable(),
      currency: z.string().nullable(),
      orderId: z.string().nullable(),
      transactionId: z.string().nullable(),
      reason: z.string().nullable(),
      trackingNumber: z.string().nullable(),
    }),
  ),
  /** Pass as `after` to `/sessions/:id/timeline` for the next page; null when the timeline ends here. */
  timelineNext: z.string().nullable(),
  /** How much the session holds: its stored events, its timeline's entries, its jobs (the latest 50 are listed). */
  totals: z.object({ events: count, timeline: count, jobs: count }),
});

/** A cursor of the timeline (`at.rank.seq`, see dashboard/queries.ts). */
const TimelineCursor = z.string().max(60).regex(/^\d{1,16}\.[0-3]\.\d{1,20}$/, 'not a timeline cursor');

/** A page of a session's timeline: the entries after `after`, oldest first. */
export const TimelineQuery = z.object({
  after: TimelineCursor.optional(),
  limit: z.coerce.number().int().min(1).max(300).default(200),
});

export const SessionTimelineResponse = z.object({ timeline: z.array(TimelineEntrySchema), next: z.string().nullable() });

export const CheckSchema = z.object({ name: z.string(), status: z.enum(['ok', 'warn', 'fail']), message: z.string() });

/** One request sandbox mode recorded instead of sending it; `id` is its delivery attempt's. */
export const SandboxRequestSchema = z.object({
  id: z.number(),
  jobId: z.number(),
  sessionId: z.string().nullable(),
  upstream: z.enum(UPSTREAMS),
  endpoint: z.string(),
  request: z.string(),
  response: z.string(),
  createdAt: z.number(),
});

export const DeliveryResponse = z.object({
  mode: z.enum(['sandbox', 'live']),
  jobs: z.array(z.object({ state: z.enum(['pending', 'running', 'dead']), upstream: z.string(), count }),),
  dead: z.array(
    z.object({
      id: z.number(),
      sessionId: z.string(),
      upstream: z.enum(UPSTREAMS),
      kind: z.string(),
      attempts: z.number(),
      lastError: z.string().nullable(),
      createdAt: z.number(),
    }),
  ),
  upstreams: z.array(
    z.object({
      upstream: z.enum(UPSTREAMS),
      state: z.enum(['ok', 'paused', 'sandbox', 'off']),
      reason: z.string().nullable(),
      since: z.number(),
      lastSuccessAt: z.number().nullable(),
      lastErrorAt: z.number().nullable(),
      lastError: z.string().nullable(),
    }),
  ),
  sandboxRequests: z.array(SandboxRequestSchema),
  /** Pass as `before` to `/delivery/sandbox` for the next (older) page; null when there is none. */
  sandboxNext: z.number().nullable(),
  /** The ad platforms' conversions over the last 7 days (empty when none is configured). */
  conversions: z.array(
    z.object({
      platform: z.enum(['meta', 'tiktok']),
      conversion: z.string(),
      sent: count,
      skipped: z.record(z.string(), count),
      failedCalls: count,
    }),
  ),
  /** The affiliate postbacks' fires over the last 7 days (empty without POSTBACKS_FILE or fires). */
  postbacks: z.array(
    z.object({
      postback: z.string(),
      fired: count,
      skipped: z.record(z.string(), count),
      failedCalls: count,
      dead: count,
      lastAnswer: z.object({ at: z.number(), outcome: z.string(), httpStatus: z.number().nullable(), response: z.string() }).nullable(),
    }),
  ),
});

export const SandboxRequestsResponse = z.object({ requests: z.array(SandboxRequestSchema), next: z.number().nullable() });

/** Delivery accuracy (collector/accuracy/): a period [from, to) of at most 31 days; the last 24 hours by default. */
export const AccuracyQuery = z
  .object({ from: instant.optional(), to: instant.optional() })
  .refine((q) => q.from === undefined || q.to === undefined || (q.to > q.from && q.to - q.from <= 31 * 86_400_000), {
    message: '`to` must be after `from`, at most 31 days later',
  });

export const AccuracyDestinationParam = z.string().regex(/^[a-z0-9-]{1,64}$/, 'not a destination');

const AccuracyFiguresSchema = z.object({
  expected: count,
  sent: count,
  skipped: count,
  skippedBy: z.record(z.string(), count),
  failed: count,
  waiting: count,
  missing: count,
  /** (sent + skipped) / expected; 1 when nothing was expected. */
  accuracy: z.number().min(0).max(1),
});

export const AccuracyResponse = z.object({
  from: z.number(),
  to: z.number(),
  /** The period of the same length just before. */
  previous: z.object({ from: z.number(), to: z.number() }),
  /** `ALERT_ACCURACY`: below it a destination alerts. */
  threshold: z.number().gt(0).max(1),
  destinations: z.array(z.object({ destination: z.string(), label: z.string(), current: AccuracyFiguresSchema, previous: AccuracyFiguresSchema })),
});

export const AccuracyItemsResponse = z.object({
  destination: z.string(),
  label: z.string(),
  from: z.number(),
  to: z.number(),
  /** The newest items that failed or are missing, at most `limit`. */
  items: z.array(
    z.object({
      sessionId: z.string().nullable(),
      item: z.string(),
      at: z.number(),
      status: z.enum(['failed', 'missing']),
      job: z.enum(['dead', 'failing']).nullable(),
      error: z.string().nullable(),
    }),
  ),
  limit: count,
});

export const ReplayResponse = z.object({ replayed: count });
export const DoctorResponse = z.object({ at: z.number(), checks: z.array(CheckSchema) });
export const SessionInfoResponse = z.object({
  mode: z.enum(['sandbox', 'live']),
  /** Send back as `X-CSRF-Token` on every change. */
  csrf: z.string(),
  auth: z.enum(['sandbox', 'cookie', 'bearer']),
});

export type OverviewData = z.infer<typeof OverviewResponse>;
export type PeriodData = z.infer<typeof PeriodSchema>;
export type LifecyclePeriodData = z.infer<typeof LifecyclePeriodSchema>;
export type LifecycleOverviewData = z.infer<typeof LifecycleOverviewSchema>;
export type SourcesData = z.infer<typeof SourcesResponse>;
export type SessionListData = z.infer<typeof SessionListResponse>;
export type SessionDetailData = z.infer<typeof SessionDetailResponse>;
export type TimelineEntryData = z.infer<typeof TimelineEntrySchema>;
export type SessionTimelineData = z.infer<typeof SessionTimelineResponse>;
export type DeliveryData = z.infer<typeof DeliveryResponse>;
export type SandboxRequestsData = z.infer<typeof SandboxRequestsResponse>;
export type AccuracyData = z.infer<typeof AccuracyResponse>;
export type AccuracyItemsData = z.infer<typeof AccuracyItemsResponse>;
export type DoctorData = z.infer<typeof DoctorResponse>;
export type CheckData = z.infer<typeof CheckSchema>;
export type SessionInfoData = z.infer<typeof SessionInfoResponse>;
