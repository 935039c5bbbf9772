/**
 * @module util
 * What every entry point needs: a guard so that nothing escapes into the host page, a debug log,
 * and one way to listen.
 */

let debug = false;

export function enableDebug(): void {
  debug = true;
}

export function log(...args: unknown[]): void {
  if (debug) console.log('[funnelbeacon]', ...args);
}

/**
 * Wraps an entry point (listener, timer, callback, command) so that whatever it throws stays
 * here: the host page is someone's sales funnel, and our bug must never become theirs.
 */
export function guard<A extends unknown[]>(fn: (...args: A) => unknown): (...args: A) => void {
  return (...args) => {
    try {
      fn(...args);
    } catch (error) {
      log(error);
    }
  };
}

/** Runs `fn` soon, guarded: after the current task, so that commands issued together batch. */
export function soon(fn: () => unknown, ms?: number): ReturnType<typeof setTimeout> {
  return setTimeout(guard(fn), ms);
}

/**
 * Listens on the window in the capture phase, so that a page stopping propagation cannot hide
 * an event from us, and passively, so that we never delay scrolling or input.
 */
export function on(types: string, listener: (event: Event) => void): void {
  for (const type of types.split(' ')) addEventListener(type, guard(listener), { capture: true, passive: true });
}
