/**
 * @module plural
 * Counts with the noun that fits them, for every line the CLI and the dashboard print: "1 visitor",
 * "2 visitors", "0 jobs". English has one singular (exactly 1) and one plural, so each caller names
 * both forms; a word spelled out, rather than an "(s)" added, reads as a sentence.
 */

/** `one` for exactly 1, else `many` (0 and 2 alike); also for the verb that follows ("is"/"are"). */
export function noun(n: number, one: string, many: string): string {
  return n === 1 ? one : many;
}

/** `n` and its noun: `plural(1, 'visitor', 'visitors')` is "1 visitor". `format` writes the number. */
export function plural(n: number, one: string, many: string, format: (n: number) => string = String): string {
  return `${format(n)} ${noun(n, one, many)}`;
}
