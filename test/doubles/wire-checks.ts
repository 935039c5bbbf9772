/**
 * The wire rules both upstream doubles enforce the same way: ActiveCampaign's dates, URLs, cents
 * and order products (Konnektive's ActiveCampaign route relays the same fields), and an email's
 * shape. Each double words its refusal in its own upstream's error format.
 */

export const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

export function isBlank(value: unknown): boolean {
  return value === undefined || value === null || (typeof value === 'string' && value.trim() === '');
}

/** ISO 8601 with seconds and an explicit offset (`Z` or `±hh:mm`), calendar-checked. */
export function isIsoDateWithOffset(text: unknown): boolean {
  if (typeof text !== 'string') return false;
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?(Z|[+-](\d{2}):?(\d{2}))$/.exec(text);
  if (!m) return false;
  const [year, month, day, hour, minute, second] = [1, 2, 3, 4, 5, 6].map((i) => Number(m[i]));
  if (year === undefined || month === undefined || day === undefined) return false;
  if (month < 1 || month > 12 || (hour ?? 99) > 23 || (minute ?? 99) > 59 || (second ?? 99) > 59) return false;
  if (day < 1 || day > new Date(Date.UTC(year, month, 0)).getUTCDate()) return false;
  if (m[8] !== 'Z' && (Number(m[9]) > 14 || Number(m[10]) > 59)) return false;
  return true;
}

/** An absolute http(s) URL, as ActiveCampaign's email links need. */
export function isHttpUrl(value: unknown): boolean {
  if (typeof value !== 'string') return false;
  try {
    return /^https?:$/.test(new URL(value).protocol) && /^https?:\/\//i.test(value);
  } catch {
    return false;
  }
}

/** Money and counts must be JSON integers; "3995" and 39.95 are both refused. */
export function isInt(value: unknown, min: number): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= min;
}

/** One thing wrong with an order product: its field, and whether it is missing or invalid. */
export interface ProductProblem {
  field: string;
  kind: 'missing' | 'invalid';
  message: string;
}

/** What is wrong with one `orderProducts[]` entry, by ActiveCampaign's rules. */
export function productProblems(product: Record<string, unknown>): ProductProblem[] {
  const problems: ProductProblem[] = [];
  const missing = (field: string) => problems.push({ field, kind: 'missing', message: `${field} is required` });
  const invalid = (field: string, message: string) => problems.push({ field, kind: 'invalid', message });
  if (isBlank(product.externalid)) missing('externalid');
  if (isBlank(product.name)) missing('name');
  if (product.price === undefined || product.price === null) missing('price');
  else if (!isInt(product.price, 0)) invalid('price', 'price must be an integer number of cents, >= 0');
  if (product.quantity === undefined || product.quantity === null) missing('quantity');
  else if (!isInt(product.quantity, 1)) invalid('quantity', 'quantity must be an integer >= 1');
  for (const field of ['category', 'sku', 'description', 'imageUrl', 'productUrl']) {
    if (!isBlank(product[field]) && typeof product[field] !== 'string') invalid(field, `${field} must be a string`);
  }
  for (const field of ['imageUrl', 'productUrl']) {
    if (!isBlank(product[field]) && typeof product[field] === 'string' && !isHttpUrl(product[field])) invalid(field, `${field} must be an absolute http(s) URL`);
  }
  return problems;
}
