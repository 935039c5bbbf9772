/**
 * @module server
 * Starts a collector from a {@link Config}: the store, the HTTP server, the outbox worker and
 * the Konnektive probe; and stops it cleanly (stop accepting, finish in-flight writes, give back
 * claimed jobs).
 */
import { abandonmentPolicy } from './session/session-rules.js';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import type { Hono } from 'hono';
import { createApp } from './app.js';
import type { Config } from './config.js';
import { Sweeper } from './abandonment/sweeper.js';
import { createCatalogue } from './catalogue/catalogue.js';
import { purchaseHandlers } from './abandonment/purchase-jobs.js';
import { systemClock, type Clock } from './clock.js';
import { createEmitter } from './emit/create-emitter.js';
import { emissionHandlers } from './emit/emission-jobs.js';
import { activeCampaignRateKey } from './emit/activecampaign-emitter.js';
import { pickupThrottle } from './emit/rate-gate.js';
import { DEFAULT_INGEST_POLICY } from './ingest/apply-batch.js';
import { closeGracefully } from './http/graceful-close.js';
import { GroupCommitter } from './ingest/group-commit.js';
import { konnektiveClient, type KonnektiveApi } from './konnektive/konnektive-client.js';
import { startKonnektiveProbe } from './konnektive/konnektive-probe.js';
import { konnektiveHandlers } from './konnektive/konnektive-relay.js';
import { lifecyclePollClock, lifecyclePollHandlers } from './lifecycle/lifecycle-poller.js';
import { lifecycleDeliveryHandlers } from './lifecycle/lifecycle-delivery.js';
import { sandboxKonnektive } from './konnektive/sandbox-konnektive.js';
import { createLogger, type Logger } from './logger.js';
import { activeAdPlatforms } from './conversions/conversion.js';
import { conversionHandlers } from './conversions/conversion-jobs.js';
import { conversionSenders } from './conversions/platform-senders.js';
import { openPostbacks, type PostbackRegistry } from './postbacks/postback-file.js';
import { postbackHandlers } from './postbacks/postback-jobs.js';
import { createMetrics, type Metrics } from './metrics.js';
import type { BackoffPolicy } from './outbox/backoff.js';
import { emissionUpstream, type JobKind } from './outbox/job-kinds.js';
import type { JobHandler } from './outbox/job-outcome.js';
import { OutboxWorker } from './outbox/outbox-worker.js';
import { Retention } from './retention/retention.js';
import { Alerts } from './accuracy/alerts.js';
import { destinations } from './accuracy/delivery-accuracy.js';
import { openStore, type OpenStoreOptions } from './store/open-store.js';
import { recoveryLinks } from './recovery/recovery-token.js';
import type { Store } from './store/store.js';
import { UpstreamHealth } from './upstream-health.js';

/**
 * How long a stopping collector waits for the requests inside to be answered before it cuts their
 * connections: well within the 30 s systemd gives `serve` (deploy/funnelbeacon.service), leaving
 * time to commit what was accepted and give back the outbox's claims.
 */
const SHUTDOWN_GRACE_MS = 10_000;

export interface CollectorOptions {
  logger?: Logger;
  /** Worker tuning, mostly for tests. */
  worker?: { pollMs?: number; leaseMs?: number; concurrency?: number; backoff?: BackoffPolicy; owner?: string };
  /** Run the outbox worker in this process (default true). */
  runWorker?: boolean;
  konnektiveTimeoutMs?: number;
  /** How long a queued Import Lead waits for more typing (default 1 s). */
  leadSettleMs?: number;
  /** How long a Lead conversion waits for the rest of the form (default 5 s). */
  leadConversionSettleMs?: number;
  /** Run the sweeper in this process (default true). */
  runSweeper?: boolean;
  /** Run the retention purge in this process (default true). */
  runRetention?: boolean;
  /** Run the delivery accuracy alerts in this process (default true; `sync` has its own work). */
  runAlerts?: boolean;
  /** The clock of background work (tests drive a virtual one). */
  clock?: Clock;
  /** The `fetch` emission routes use (tests track requests in flight with it). */
  fetch?: typeof fetch;
  /** Bench only: see {@link OpenStoreOptions.unsafeSkipDurability}. Never set from configuration. */
  storeOptions?: Pick<OpenStoreOptions, 'unsafeSkipDurability'>;
}

export interface RunningCollector {
  url: string;
  port: number;
  app: Hono;
  store: Store;
  worker: OutboxWorker;
  health: UpstreamHealth;
  metrics: Metrics;
  sweeper: Sweeper;
  retention: Retention;
  /** `POSTBACKS_FILE`'s postbacks in force (undefined without it); `reload()` on SIGHUP. */
  postbacks: PostbackRegistry | undefined;
  /** The delivery accuracy alerts (collector/accuracy/alerts.ts). */
  alerts: Alerts;
  close(): Promise<void>;
}

/** The signing secret: configured, or (sandbox mode) generated once and kept in the store. */
export async function resolveSecret(config: Config, store: Store): Promise<string> {
  if (config.secret) return config.secret;
  return store.setMetaIfAbsent('secret', randomBytes(32).toString('base64url'));
}

export async function startCollector(config: Config, options: CollectorOptions = {}): Promise<RunningCollector> {
  const logger = options.logger ?? createLogger(config.logLevel);
  const clock = options.clock ?? systemClock;
  // A bad PRODUCTS_FILE stops the start here, before the store is opened.
  const catalogue = createCatalogue(config, clock);
  // So does a bad POSTBACKS_FILE.
  const postbacks = openPostbacks(config.postbacksFile);
  const store = await openStore(config.databaseUrl, { ...options.storeOptions, clock });
  await store.migrate();
  const secret = await resolveSecret(config, store);
  const metrics = createMetrics(store, { clock });
  const adPlatforms = activeAdPlatforms(config);
  const health = new UpstreamHealth(
    {
      konnektive: config.konnektive ? 'ok' : 'sandbox',
      activecampaign: config.activeCampaign ? 'ok' : config.emitVia === 'sandbox' ? 'sandbox' : 'off',
      ...Object.fromEntries(adPlatforms.map((platform) => [platform, config.sandbox ? 'sandbox' : 'ok'])),
      ...(postbacks ? { postbacks: config.sandbox ? 'sandbox' : 'ok' } : {}),
    },
    clock,
  );

  const konnektive: KonnektiveApi = config.konnektive
    ? konnektiveClient({ ...config.konnektive, ...(options.konnektiveTimeoutMs ? { timeoutMs: options.konnektiveTimeoutMs } : {}) })
    : sandboxKonnektive();
  const emitter = createEmitter({ config, konnektive, store, clock, ...(options.fetch ? { fetch: options.fetch } : {}) });
  const handlers: Record<JobKind, JobHandler> = {
    ...konnektiveHandlers({ config, store, api: konnektive, health, metrics, logger, clock }),
    ...purchaseHandlers({ config, store, konnektive, catalogue, health, metrics, logger, clock }),
    ...emissionHandlers({ store, emitter, health, metrics, logger, clock, upstream: emissionUpstream(config.emitVia), recovery: recoveryLinks(config, secret) }),
    ...lifecyclePollHandlers({ config, store, api: konnektive, health, metrics, logger, clock, onQueued: () => worker.notify() }),
    ...lifecycleDeliveryHandlers({ config, store, health, metrics, logger, clock, ...(options.fetch ? { fetch: options.fetch } : {}) }),
    ...postbackHandlers({ store, registry: postbacks, sandbox: config.sandbox, health, metrics, logger, clock, ...(options.fetch ? { fetch: options.fetch } : {}) }),
    ...conversionHandlers({ store, senders: conversionSenders(config, options.fetch, () => clock.now()), sandbox: config.sandbox, health, metrics, logger, clock }),
  };
  // ActiveCampaign's jobs are picked up only while its shared rate schedule has room (outbox/relay-lane.ts).
  const ac = config.activeCampaign;
  const throttles = ac ? { activecampaign: pickupThrottle({ store, clock, key: activeCampaignRateKey(ac.apiUrl), perSecond: config.activeCampaignRatePerSecond }) } : {};
  const worker = new OutboxWorker({
    store,
    handlers,
    health,
    logger,
    clock,
    leaseMs: config.outboxLeaseMs,
    concurrency: config.relayConcurrency,
    throttles,
    upstreams: ['konnektive', 'activecampaign', ...adPlatforms, ...(postbacks ? (['postbacks'] as const) : [])],
    ...options.worker,
  });
  const stopProbe = startKonnektiveProbe({
    api: konnektive,
    health,
    logger,
    everyMs: config.konnektiveProbeEveryMs,
    onResume: () => worker.notify(),
    clock,
  });

  const sweeper = new Sweeper({ store, config, clock, logger, onQueued: () => worker.notify(), lifecycle: lifecyclePollClock(config, store) });
  const retention = new Retention({ store, clock, logger, retentionDays: config.retentionDays, everyMs: config.retentionEveryMs });
  const alerts = new Alerts({
    store,
    destinations: () => destinations(config, postbacks?.postbacks),
    health,
    metrics,
    logger,
    clock,
    threshold: config.alerts.accuracy,
    everyMs: config.alerts.everyMs,
    webhookUrl: config.alerts.webhookUrl,
    publicUrl: config.publicUrl,
    ...(options.fetch ? { fetch: options.fetch } : {}),
  });
  const committer = new GroupCommitter(store, {
    onCommitted: (_jobs, upstreams) => worker.notify(upstreams),
    policy: {
      leadSettleMs: options.leadSettleMs ?? DEFAULT_INGEST_POLICY.leadSettleMs,
      sessionCap: { maxEvents: config.sessionMaxEvents, maxBytes: config.sessionMaxBytes },
      adPlatforms,
      ...(options.leadConversionSettleMs === undefined ? {} : { leadConversionSettleMs: options.leadConversionSettleMs }),
      postbacks: postbacks !== undefined,
      ...abandonmentPolicy(config),
    },
  });
  const app = createApp({ config, secret, store, committer, metrics, health, logger, clock, postbacks, wakeWorker: () => worker.notify() });

  const server: ServerType = await new Promise((resolve) => {
    const started = serve({ fetch: app.fetch, port: config.port, hostname: config.host }, () => resolve(started));
  });
  const port = (server.address() as AddressInfo).port;
  const host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
  if (options.runWorker !== false) worker.start();
  if (options.runSweeper !== false) sweeper.start();
  if (options.runRetention !== false) retention.start();
  if (options.runAlerts !== false) alerts.start();
  logger.info({ port, mode: config.sandbox ? 'sandbox' : 'live', store: store.kind }, 'collector listening');

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      // Stop accepting; requests already inside finish, and their events are committed.
      await closeGracefully(server, SHUTDOWN_GRACE_MS);
      await committer.drain();
      stopProbe();
      await sweeper.stop();
      await retention.stop();
      await alerts.stop();
      await worker.stop();
      await store.close();
      logger.info('collector stopped');
    })());

  return { url: `http://${host}:${port}`, port, app, store, worker, health, metrics, sweeper, retention, postbacks, alerts, close };
}
