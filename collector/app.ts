/**
 * @module app
 * Assembles the collector's HTTP app from its routes, with the one error handler at the top. What
 * that handler logs of a request and its error never holds a token (a recovery link's path, a
 * session or link token quoted in a message) nor an email or a long number.
 */
import type { PostbackRegistry } from './postbacks/postback-file.js';
import { Hono } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { Clock } from './clock.js';
import type { Config } from './config.js';
import { errorBody, RequestAborted } from './http/errors.js';
import { redactTokens } from './http/token-redaction.js';
import { redactMessage } from './redact.js';
import type { GroupCommitter } from './ingest/group-commit.js';
import type { Logger } from './logger.js';
import type { Metrics } from './metrics.js';
import { dashboardRoute } from './routes/dashboard-route.js';
import { demoRoute } from './routes/demo-route.js';
import { eventsRoute } from './routes/events-route.js';
import { healthRoute } from './routes/health-route.js';
import { postbackRoute } from './routes/postback-route.js';
import { recoveryRoute } from './routes/recovery-route.js';
import { snippetRoute } from './routes/snippet-route.js';
import type { Store } from './store/store.js';
import type { UpstreamHealth } from './upstream-health.js';

export interface AppDeps {
  /** `POSTBACKS_FILE`'s postbacks in force: the dashboard's accuracy lists each. */
  postbacks?: PostbackRegistry | undefined;
  config: Config;
  secret: string;
  store: Store;
  committer: GroupCommitter;
  metrics: Metrics;
  health: UpstreamHealth;
  logger: Logger;
  /** Time of requests: when events were received, whether a link has expired. */
  clock?: Clock;
  /** Wakes the outbox worker when a request queued a job (a Konnektive postback's poll). */
  wakeWorker?: () => void;
}

export function createApp(deps: AppDeps): Hono {
  const app = new Hono();

  app.route('/', eventsRoute(deps));
  app.route('/', healthRoute(deps));
  app.route('/', snippetRoute());
  app.route('/', recoveryRoute(deps));
  app.route('/', postbackRoute(deps));
  if (deps.config.sandbox) app.route('/', demoRoute(deps));
  app.route(
    '/',
    dashboardRoute({
      config: deps.config,
      secret: deps.secret,
      store: deps.store,
      health: deps.health,
      linkTtlMs: deps.config.recovery.linkTtlMs,
      ...(deps.clock ? { clock: deps.clock } : {}),
      ...(deps.postbacks ? { postbacks: deps.postbacks } : {}),
    }),
  );

  app.notFound((c) => c.json(errorBody('not_found', 'No such route.'), 404));
  app.onError((error, c) => {
    if (error instanceof HTTPException) return error.getResponse();
    if (error instanceof RequestAborted) {
      // The client left mid-body: nobody reads the answer, and nothing on our side failed.
      deps.metrics.requestsAborted.inc();
      deps.logger.debug({ path: redactTokens(c.req.path), reason: error.cause instanceof Error ? error.cause.message : String(error.cause) }, 'request aborted by the client');
      return new Response(null, { status: 499 });
    }
    const message = error instanceof Error ? error.message : String(error);
    deps.logger.error({ err: redactMessage(redactTokens(message)), path: redactTokens(c.req.path) }, 'unhandled error');
    return c.json(errorBody('internal', 'Something went wrong on our side.'), 500);
  });

  return app;
}
