/**
 * @module figures
 * The additive counts the dashboard keeps per hour (and per source), and the ratios derived from
 * them. Counts add across hours and sources; ratios never do, so only counts are stored.
 *
 * Attribution: visitors, funnel steps, leads and conversions count by the session's first visit;
 * carts (and their recovery, clicks and loss) by the time the cart was abandoned (its CART
 * queued); orders and revenue by the time the order became final (its ORDER queued), as
 * Checkout Champ dates sales by order.
 */
import { PAGE_NAMES, type PageName } from '../wire-schema.js';

export interface Figures {
  visitors: number;
  steps: Record<PageName, number>;
  /** Sessions with a lead (an email or a phone): Checkout Champ's partials, before any sale. */
  leads: number;
  /** Visitors of the period whose session ended in an order. */
  converted: number;
  carts: number;
  cartCents: number;
  recovered: number;
  recoveredCents: number;
  recoveredByLink: number;
  recoveredByLinkCents: number;
  /** Carts with no order yet: lost once their recovery link has expired. */
  unrecovered: number;
  recoveryClicks: number;
  orders: number;
  orderCents: number;
  /** Orders whose buyer saw an upsell page, and those that bought more than the first item. */
  upsellSeen: number;
  upsellTaken: number;
}

export const FIGURE_KEYS = [
  'visitors',
  'leads',
  'converted',
  'carts',
  'cartCents',
  'recovered',
  'recoveredCents',
  'recoveredByLink',
  'recoveredByLinkCents',
  'unrecovered',
  'recoveryClicks',
  'orders',
  'orderCents',
  'upsellSeen',
  'upsellTaken',
] as const satisfies readonly Exclude<keyof Figures, 'steps'>[];

export function emptyFigures(): Figures {
  const figures = { steps: Object.fromEntries(PAGE_NAMES.map((page) => [page, 0])) } as Figures;
  for (const key of FIGURE_KEYS) figures[key] = 0;
  return figures;
}

/** Adds `b` into `a` (in place) and returns `a`. */
export function addFigures(a: Figures, b: Partial<Figures>): Figures {
  for (const key of FIGURE_KEYS) a[key] += Number(b[key] ?? 0);
  for (const page of PAGE_NAMES) a.steps[page] += Number(b.steps?.[page] ?? 0);
  return a;
}

/** Stored compactly: zero counts are left out. */
export function packFigures(figures: Figures): string {
  const packed: Record<string, unknown> = {};
  for (const key of FIGURE_KEYS) if (figures[key] !== 0) packed[key] = figures[key];
  const steps = Object.fromEntries(Object.entries(figures.steps).filter(([, n]) => n !== 0));
  if (Object.keys(steps).length > 0) packed.steps = steps;
  return JSON.stringify(packed);
}

export function unpackFigures(text: string): Partial<Figures> {
  return JSON.parse(text) as Partial<Figures>;
}

const ratio = (numerator: number, denominator: number): number | null => (denominator > 0 ? numerator / denominator : null);

/** What the overview shows, derived from the counts of a period. */
export interface DerivedFigures {
  /** Orders over leads plus orders without a lead: partials count in the denominator. */
  salesConversion: number | null;
  /** Orders per visitor. */
  visitorConversion: number | null;
  averageOrderCents: number | null;
  revenuePerVisitorCents: number | null;
  upsellTakeRate: number | null;
  /** CartFlows: recovered / (recovered + still abandoned + lost), i.e. recovered over carts. */
  recoveryRate: number | null;
}

export function deriveFigures(figures: Figures): DerivedFigures {
  return {
    salesConversion: ratio(figures.converted, Math.max(figures.leads, figures.converted)),
    visitorConversion: ratio(figures.converted, figures.visitors),
    averageOrderCents: ratio(figures.orderCents, figures.orders),
    revenuePerVisitorCents: ratio(figures.orderCents, figures.visitors),
    upsellTakeRate: ratio(figures.upsellTaken, figures.upsellSeen),
    recoveryRate: ratio(figures.recovered, figures.carts),
  };
}
