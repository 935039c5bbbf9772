/**
 * @module overview-view
 * The overview: the funnel, sales, carts and recovery for the chosen period, each figure beside
 * the previous period's; what happened after the order when the lifecycle sync runs.
 */
import type { LifecycleOverviewData, OverviewData } from '../api-schema.js';
import { FunnelChart, MixedCurrencies, Problem, Section, Stat } from './components.js';
import { count, money, percent, plural } from './format.js';
import { usePoll, type Route } from './hooks.js';
import { RangePicker, rangeOf } from './range.js';

export function OverviewView({ route }: { route: Route }) {
  const { from, to } = rangeOf(route);
  const { data, error } = usePoll<OverviewData>(`/overview?from=${from}&to=${to}`);
  return (
    <>
      <div class="toolbar">
        <h1>Overview</h1>
        <RangePicker route={route} view="overview" />
      </div>
      <Problem error={error} />
      {data ? <Overview data={data} /> : <p class="loading">Loading…</p>}
    </>
  );
}

function Overview({ data }: { data: OverviewData }) {
  const c = data.current;
  const p = data.previous;
  const cur = data.currency;
  const m = (cents: number | null) => money(cents === null ? null : Math.round(cents), cur);
  return (
    <>
      {data.pendingHours > 0 ? <p class="note">Some recent hours are still being counted; figures catch up within seconds.</p> : null}
      <MixedCurrencies currencies={data.currencies} />
      <Section title="Sales">
        <dl class="stats">
          <Stat label="Revenue" value={m(c.figures.orderCents)} previous={m(p.figures.orderCents)} now={c.figures.orderCents} before={p.figures.orderCents} />
          <Stat label="Orders" value={count(c.figures.orders)} previous={count(p.figures.orders)} now={c.figures.orders} before={p.figures.orders} />
          <Stat label="Average order" value={m(c.derived.averageOrderCents)} previous={m(p.derived.averageOrderCents)} now={c.derived.averageOrderCents} before={p.derived.averageOrderCents} />
          <Stat
            label="Sales conversion"
            value={percent(c.derived.salesConversion)}
            previous={percent(p.derived.salesConversion)}
            now={c.derived.salesConversion}
            before={p.derived.salesConversion}
            hint={`${plural(c.figures.converted, 'sale', 'sales')} of ${plural(Math.max(c.figures.leads, c.figures.converted), 'lead', 'leads')} (partials included)`}
          />
          <Stat label="Upsell take rate" value={percent(c.derived.upsellTakeRate)} previous={percent(p.derived.upsellTakeRate)} now={c.derived.upsellTakeRate} before={p.derived.upsellTakeRate} />
          <Stat label="Revenue per visitor" value={m(c.derived.revenuePerVisitorCents)} previous={m(p.derived.revenuePerVisitorCents)} now={c.derived.revenuePerVisitorCents} before={p.derived.revenuePerVisitorCents} />
        </dl>
      </Section>
      {data.lifecycle ? <AfterTheOrder lifecycle={data.lifecycle} currency={cur} /> : null}
      {data.lifecycleNote ? <p class="note">{data.lifecycleNote}</p> : null}
      <Section title="Carts and recovery">
        <dl class="stats">
          <Stat label="Carts abandoned" value={count(c.figures.carts)} previous={count(p.figures.carts)} now={c.figures.carts} before={p.figures.carts} invert hint={`${m(c.figures.cartCents)} recoverable`} />
          <Stat label="Carts recovered" value={count(c.figures.recovered)} previous={count(p.figures.recovered)} now={c.figures.recovered} before={p.figures.recovered} hint={`${count(c.figures.recoveredByLink)} by link`} />
          <Stat label="Recovered revenue" value={m(c.figures.recoveredCents)} previous={m(p.figures.recoveredCents)} now={c.figures.recoveredCents} before={p.figures.recoveredCents} hint={`${m(c.figures.recoveredByLinkCents)} by link`} />
          <Stat label="Recovery rate" value={percent(c.derived.recoveryRate)} previous={percent(p.derived.recoveryRate)} now={c.derived.recoveryRate} before={p.derived.recoveryRate} />
          <Stat label="Lost carts" value={count(c.figures.lost)} previous={count(p.figures.lost)} now={c.figures.lost} before={p.figures.lost} invert hint="no order after the recovery link expired" />
          <Stat label="Recovery link clicks" value={count(c.figures.recoveryClicks)} previous={count(p.figures.recoveryClicks)} now={c.figures.recoveryClicks} before={p.figures.recoveryClicks} />
        </dl>
      </Section>
      <Section title="Funnel">
        <p class="sub">
          {plural(c.figures.visitors, 'visitor', 'visitors')} ({count(p.figures.visitors)} the period before), {plural(c.figures.leads, 'lead', 'leads')}
        </p>
        <FunnelChart id="funnel" period={c} previous={p} />
      </Section>
    </>
  );
}

/** The lifecycle sync's figures (collector/dashboard/lifecycle-figures.ts), counted when each change was found. */
function AfterTheOrder({ lifecycle, currency }: { lifecycle: LifecycleOverviewData; currency: string }) {
  const c = lifecycle.current;
  const p = lifecycle.previous;
  const m = (cents: number) => money(cents, currency);
  return (
    <Section title="After the order">
      {lifecycle.enabled ? null : <p class="sub">Lifecycle sync is off: these are the changes it found while it ran.</p>}
      <MixedCurrencies currencies={lifecycle.currencies} />
      <dl class="stats" id="after-the-order">
        <Stat label="Net revenue" value={m(c.netCents)} previous={m(p.netCents)} now={c.netCents} before={p.netCents} hint="sales + rebills − refunds − chargebacks" />
        <Stat label="Rebills" value={count(c.rebills)} previous={count(p.rebills)} now={c.rebills} before={p.rebills} hint={m(c.rebillCents)} />
        <Stat label="Rebill declines" value={count(c.rebillDeclines)} previous={count(p.rebillDeclines)} now={c.rebillDeclines} before={p.rebillDeclines} invert />
        <Stat label="Recovered rebills" value={count(c.recoveredRebills)} previous={count(p.recoveredRebills)} now={c.recoveredRebills} before={p.recoveredRebills} hint={`${m(c.recoveredRebillCents)}, paid after a decline of the same cycle`} />
        <Stat label="First-sale declines" value={count(c.saleDeclines)} previous={count(p.saleDeclines)} now={c.saleDeclines} before={p.saleDeclines} invert />
        <Stat label="Cancellations" value={count(c.cancellations)} previous={count(p.cancellations)} now={c.cancellations} before={p.cancellations} invert />
        <Stat label="Pauses" value={count(c.pauses)} previous={count(p.pauses)} now={c.pauses} before={p.pauses} invert />
        <Stat label="Refunds" value={count(c.refunds)} previous={count(p.refunds)} now={c.refunds} before={p.refunds} invert hint={m(c.refundCents)} />
        <Stat label="Chargebacks" value={count(c.chargebacks)} previous={count(p.chargebacks)} now={c.chargebacks} before={p.chargebacks} invert hint={m(c.chargebackCents)} />
        <Stat
          label="Active subscribers"
          value={c.activeSubscribers === null ? '–' : count(c.activeSubscribers)}
          previous={p.activeSubscribers === null ? '–' : count(p.activeSubscribers)}
          now={c.activeSubscribers}
          before={p.activeSubscribers}
          hint="latest known status active or trial"
        />
      </dl>
    </Section>
  );
}
