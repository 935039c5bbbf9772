/**
 * @module alerts
 * Tells the owner when a destination stops receiving what it should: every `ALERT_EVERY` it
 * computes each destination's delivery accuracy over the last two hours (delivery-accuracy.ts).
 * Below `ALERT_ACCURACY`, or while the destination's upstream is paused because it refused the
 * credentials (upstream-health.ts), the destination is alerting: one error line in the log when it
 * starts, the gauges `funnelbeacon_destination_accuracy` and `funnelbeacon_destination_alerting`,
 * and with `ALERT_WEBHOOK_URL` a short JSON message (`text` for Slack, `content` for Discord) at
 * most once per destination per hour, and one more when it recovers.
 *
 * The state is this process's own (a restart forgets it, and at worst posts an alert again), but
 * two collectors sharing a PostgreSQL store never both post: each message is decided by spending
 * a one-time marker in the store (`StoreTx.spendToken`), keyed by the destination and the hour
 * (a recovery by the hour of the alert it ends). The webhook is no outbox job (it reports on the
 * outbox): a post that fails is logged and tried again at the next check.
 */
import type { Clock } from '../clock.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import type { Store, Upstream } from '../store/store.js';
import type { UpstreamHealth } from '../upstream-health.js';
import { deliveryAccuracy, type Destination, type DestinationAccuracy } from './delivery-accuracy.js';

/** The period each check looks at, ending now. */
export const ALERT_WINDOW_MS = 2 * 60 * 60_000;
const HOUR_MS = 60 * 60_000;
const POST_TIMEOUT_MS = 10_000;

export interface AlertOptions {
  store: Store;
  /** The destinations in force (read at each check: a reloaded POSTBACKS_FILE changes them). */
  destinations: readonly Destination[] | (() => readonly Destination[]);
  health: UpstreamHealth;
  metrics: Pick<Metrics, 'destinationAccuracy' | 'destinationAlerting'>;
  logger: Logger;
  clock: Clock;
  /** `ALERT_ACCURACY`: a share in (0, 1]. */
  threshold: number;
  /** `ALERT_EVERY`. */
  everyMs: number;
  /** `ALERT_WEBHOOK_URL`; without it alerts are only logged and measured. */
  webhookUrl: string | undefined;
  /** `PUBLIC_URL`: the messages link to the dashboard's Delivery view there. */
  publicUrl: string;
  fetch?: typeof fetch;
}

/** What one check found of one destination. */
export interface AlertCheck {
  destination: string;
  accuracy: number;
  alerting: boolean;
  /** The message this check posted, if any. */
  posted?: string;
}

interface DestinationState {
  alerting: boolean;
  /** When an alert of this destination was last posted, by this collector or (its marker spent) another. */
  postedAt?: number;
  /** The hour whose marker the current spell's alert was posted under: its recovery is marked by it. */
  spellHour?: number;
  /** A message whose post failed, tried again at the next check while it still holds. */
  pending?: { kind: 'alert' | 'recovery'; text: string };
}

const percent = (share: number) => `${Math.floor(share * 100 + 1e-9)}%`;

export class Alerts {
  readonly #o: AlertOptions;
  readonly #state = new Map<string, DestinationState>();
  #cancel: (() => void) | undefined;
  #unsubscribe: (() => void) | undefined;
  /** The checks asked for, one after the other (a pause may ask for one while the timer's runs). */
  #chain: Promise<unknown> = Promise.resolve();

  constructor(options: AlertOptions) {
    this.#o = options;
  }

  start(): void {
    const tick = () => {
      void this.#queueCheck().finally(() => {
        if (this.#cancel) this.#cancel = this.#o.clock.setTimer(tick, this.#o.everyMs);
      });
    };
    this.#cancel = this.#o.clock.setTimer(tick, this.#o.everyMs);
    // Refused credentials alert at once, not at the next check.
    this.#unsubscribe = this.#o.health.onChange((_upstream, status) => {
      if (status.state === 'paused') void this.#queueCheck();
    });
  }

  async stop(): Promise<void> {
    this.#cancel?.();
    this.#cancel = undefined;
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    await this.#chain;
  }

  #queueCheck(): Promise<unknown> {
    const next = this.#chain.then(() =>
      this.checkOnce().catch((error: unknown) => this.#o.logger.error({ err: error instanceof Error ? error.message : String(error) }, 'delivery accuracy check failed')),
    );
    this.#chain = next;
    return next;
  }

  /** One check of every destination. */
  async checkOnce(): Promise<AlertCheck[]> {
    const { store, clock, threshold, metrics } = this.#o;
    const now = clock.now();
    const list = typeof this.#o.destinations === 'function' ? this.#o.destinations() : this.#o.destinations;
    const figures = await deliveryAccuracy(store.sql(), list, { from: now - ALERT_WINDOW_MS, to: now + 1 });
    const checks: AlertCheck[] = [];
    for (const destination of list) {
      const found = figures.find((row) => row.destination === destination.id)!;
      const paused = this.#o.health.get(destination.upstream as Upstream);
      const refused = paused.state === 'paused' ? (paused.reason ?? 'the upstream refused the API credentials') : undefined;
      const low = refused !== undefined || found.accuracy < threshold;
      metrics.destinationAccuracy.set({ destination: destination.id }, found.accuracy);
      metrics.destinationAlerting.set({ destination: destination.id }, low ? 1 : 0);
      const posted = await this.#apply(destination, found, low, refused, now);
      checks.push({ destination: destination.id, accuracy: found.accuracy, alerting: low, ...(posted ? { posted } : {}) });
    }
    return checks;
  }

  async #apply(destination: Destination, found: DestinationAccuracy, low: boolean, refused: string | undefined, now: number): Promise<string | undefined> {
    const { logger, webhookUrl } = this.#o;
    const state = this.#state.get(destination.id) ?? { alerting: false };
    this.#state.set(destination.id, state);
    const counts = { expected: found.expected, sent: found.sent, skipped: found.skipped, failed: found.failed, waiting: found.waiting, missing: found.missing };
    if (low) {
      if (!state.alerting) {
        state.alerting = true;
        if (state.pending?.kind === 'recovery') delete state.pending;
        logger.error(
          { destination: destination.id, accuracy: found.accuracy, threshold: this.#o.threshold, ...counts, ...(refused ? { paused: refused } : {}) },
          refused ? 'destination paused: its upstream refused the API credentials' : 'destination delivery accuracy below ALERT_ACCURACY',
        );
      }
      if (!webhookUrl) return undefined;
      if (state.pending?.kind === 'alert') return this.#post(state, state.pending);
      if (state.postedAt !== undefined && now - state.postedAt < HOUR_MS) return undefined;
      const hour = Math.floor(now / HOUR_MS);
      state.postedAt = now;
      state.spellHour ??= hour;
      if (!(await this.#spend(`alert.${destination.id}.${hour}`, (hour + 2) * HOUR_MS))) return undefined;
      return this.#post(state, { kind: 'alert', text: this.#alertText(destination, found, refused) });
    }
    if (state.pending?.kind === 'recovery') return this.#post(state, state.pending);
    if (!state.alerting) return undefined;
    state.alerting = false;
    if (state.pending?.kind === 'alert') delete state.pending;
    logger.info({ destination: destination.id, accuracy: found.accuracy, ...counts }, 'destination delivery accuracy recovered');
    const spell = state.spellHour;
    delete state.spellHour;
    // Only an alert that went out (from here or another collector) is followed by its recovery.
    if (!webhookUrl || spell === undefined) return undefined;
    if (!(await this.#spend(`alert.${destination.id}.${spell}.recovered`, now + 2 * 24 * HOUR_MS))) return undefined;
    return this.#post(state, { kind: 'recovery', text: `funnelbeacon: ${destination.label} delivery accuracy is back at ${percent(found.accuracy)}. ${this.#link()}` });
  }

  #alertText(destination: Destination, found: DestinationAccuracy, refused: string | undefined): string {
    if (refused) return `funnelbeacon: ${destination.label} is paused: ${refused}. ${this.#link()}`;
    const parts = [`${found.failed} failed`, `${found.missing} missing`, ...(found.waiting > 0 ? [`${found.waiting} waiting`] : [])];
    return `funnelbeacon: ${destination.label} delivery accuracy ${percent(found.accuracy)} over the last 2 hours (below ${percent(this.#o.threshold)}): ${parts.join(', ')}. ${this.#link()}`;
  }

  #link(): string {
    return `${this.#o.publicUrl.replace(/\/+$/, '')}/dashboard/#/delivery`;
  }

  #spend(id: string, expiresAt: number): Promise<boolean> {
    return this.#o.store.transaction((tx) => tx.spendToken(id, expiresAt));
  }

  /** Posts the message; on failure keeps it for the next check. Returns the text once it went. */
  async #post(state: DestinationState, message: { kind: 'alert' | 'recovery'; text: string }): Promise<string | undefined> {
    const doFetch = this.#o.fetch ?? fetch;
    try {
      const response = await doFetch(this.#o.webhookUrl!, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        // Slack's incoming webhooks read `text`, Discord's `content`.
        body: JSON.stringify({ text: message.text, content: message.text }),
        redirect: 'manual',
        signal: AbortSignal.timeout(POST_TIMEOUT_MS),
      });
      await response.body?.cancel().catch(() => {});
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      delete state.pending;
      return message.text;
    } catch (error) {
      state.pending = message;
      this.#o.logger.warn({ kind: message.kind, err: error instanceof Error ? error.message : String(error) }, 'alert webhook post failed; tried again at the next check');
      return undefined;
    }
  }
}
