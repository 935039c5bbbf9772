/**
 * @module components
 * The dashboard's shared pieces: a figure beside its previous value, the funnel chart (an SVG
 * labelled for screen readers, with the same numbers in a table), status badges and messages.
 */
import type { ComponentChildren } from 'preact';
import type { PeriodData } from '../api-schema.js';
import type { ApiError } from './api.js';
import { change, count, percent, STEP_LABELS } from './format.js';

/**
 * A table of rows with a caption for screen readers and one header per column, in a wrapper that
 * scrolls sideways at phone width. Every list of the dashboard is one of these.
 */
export function DataTable({ caption, columns, class: className = '', scroll = true, children }: {
  caption: string;
  /** Column headers; an object gives a header read only by screen readers. */
  columns: readonly (string | { srOnly: string })[];
  class?: string;
  scroll?: boolean;
  children: ComponentChildren;
}) {
  const table = (
    <table class={`data ${className}`.trim()}>
      <caption class="sr-only">{caption}</caption>
      <thead>
        <tr>
          {columns.map((column) => (
            <th scope="col" key={typeof column === 'string' ? column : column.srOnly}>
              {typeof column === 'string' ? column : <span class="sr-only">{column.srOnly}</span>}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>{children}</tbody>
    </table>
  );
  // A box that scrolls sideways can be focused, so a keyboard can scroll it too.
  return scroll ? (
    <div class="scroll" tabIndex={0} role="region" aria-label={caption}>
      {table}
    </div>
  ) : (
    table
  );
}

/** Said where amounts of several currencies were added together (the rollup keeps no currency apart). */
export function MixedCurrencies({ currencies }: { currencies: readonly string[] }) {
  if (currencies.length < 2) return null;
  return (
    <p class="note" role="note">
      Carts and orders in this period are in {currencies.join(', ')}: the amounts below add them as if they were one currency.{' '}
      <code>funnelbeacon report</code> gives each currency apart.
    </p>
  );
}

export function Stat({ label, value, previous, now, before, hint, invert = false }: {
  label: string;
  value: string;
  previous: string;
  now: number | null;
  before: number | null;
  hint?: string;
  /** Down is good (drop-off, lost carts). */
  invert?: boolean;
}) {
  const delta = change(now, before);
  const good = delta.direction === 'flat' ? 'flat' : (delta.direction === 'up') !== invert ? 'good' : 'bad';
  return (
    <div class="stat" role="group" aria-label={label}>
      <dt>{label}</dt>
      <dd class="value">{value}</dd>
      <dd class={`delta ${good}`}>
        <span aria-hidden="true">{delta.direction === 'up' ? '▲' : delta.direction === 'down' ? '▼' : '•'}</span> {delta.text}
        <span class="previous"> vs {previous}</span>
      </dd>
      {hint ? <dd class="hint">{hint}</dd> : null}
    </div>
  );
}

/**
 * Horizontal bars, one per step, the widest being the busiest step of either period. Labels are
 * HTML (crisp at any width); each bar is a small SVG. The table under it carries the same
 * numbers for screen readers, so the bars themselves are hidden from them.
 */
export function FunnelChart({ period, previous, id }: { period: PeriodData; previous: PeriodData; id: string }) {
  const steps = period.funnel;
  const top = Math.max(1, ...steps.map((s) => s.visitors), ...previous.funnel.map((s) => s.visitors));
  return (
    <figure class="funnel" aria-labelledby={`${id}-caption`}>
      <ol class="funnel-bars" aria-hidden="true">
        {steps.map((step) => {
          const before = previous.funnel.find((p) => p.step === step.step)?.visitors ?? 0;
          return (
            <li key={step.step}>
              <span class="bar-label">{STEP_LABELS[step.step]}</span>
              <span class="bar-number">
                {count(step.visitors)} <span class="bar-share">{step.ofFirst === null ? '' : percent(step.ofFirst)}</span>
              </span>
              <svg class="bar-svg" viewBox="0 0 1000 20" preserveAspectRatio="none" focusable="false">
                <rect class="bar-previous" x="0" y="0" width={(before / top) * 1000} height="20" />
                <rect class="bar" x="0" y="4" width={Math.max((step.visitors / top) * 1000, step.visitors > 0 ? 4 : 0)} height="12" />
              </svg>
            </li>
          );
        })}
      </ol>
      <figcaption class="legend" id={`${id}-caption`}>
        <span class="sr-only">Funnel by step: </span>
        <span class="key key-current" aria-hidden="true" /> this period <span class="key key-previous" aria-hidden="true" /> previous period
      </figcaption>
      <table class="funnel-table">
        <caption class="sr-only">Funnel by step, with conversion from the first step and drop-off from the step before</caption>
        <thead>
          <tr>
            <th scope="col">Step</th>
            <th scope="col">Visitors</th>
            <th scope="col">Previous</th>
            <th scope="col">Of first step</th>
            <th scope="col">Drop-off</th>
          </tr>
        </thead>
        <tbody>
          {steps.map((step) => (
            <tr key={step.step}>
              <th scope="row">{STEP_LABELS[step.step]}</th>
              <td>{count(step.visitors)}</td>
              <td>{count(previous.funnel.find((p) => p.step === step.step)?.visitors ?? 0)}</td>
              <td>{percent(step.ofFirst)}</td>
              <td>{percent(step.dropOff)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </figure>
  );
}

export function Badge({ value }: { value: string }) {
  return <span class={`badge badge-${value.replace(/[^a-z-]/g, '')}`}>{value}</span>;
}

export function Problem({ error }: { error: ApiError | undefined }) {
  if (!error) return null;
  return (
    <p class="problem" role="alert">
      {error.message}
    </p>
  );
}

export function Section({ title, children, actions }: { title: string; children: ComponentChildren; actions?: ComponentChildren }) {
  const id = `h-${title.toLowerCase().replace(/[^a-z0-9]+/g, '-')}`;
  return (
    <section class="panel" aria-labelledby={id}>
      <header class="panel-head">
        <h2 id={id}>{title}</h2>
        {actions}
      </header>
      {children}
    </section>
  );
}

/** The button that loads a list's next page (the Delivery view's requests, a session's timeline). */
export function ShowMore({ busy, onMore }: { busy: boolean; onMore: () => unknown }) {
  return (
    <p>
      <button type="button" onClick={() => void onMore()} disabled={busy}>
        {busy ? 'Loading…' : 'Show more'}
      </button>
    </p>
  );
}
