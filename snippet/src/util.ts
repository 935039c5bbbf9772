/**
 * @module util
 * What every entry point needs: a guard so that nothing escapes into the host page, a debug log,
 * timers and listeners that go through the guard.
 */
import { tag } from './config.js';

/** With `data-debug`, the errors the snippet catches go to the console. */
export const log = (error: unknown): unknown => tag && 'debug' in tag && console.log('funnelbeacon', error);

/**
 * Wraps an entry point (listener, timer, callback, command) so that whatever it throws stays
 * here: the host page is someone's sales funnel, and our bug must never become theirs.
 */
export const guard =
  <A extends unknown[]>(fn: (...args: A) => unknown) =>
  (...args: A): void => {
    try {
      fn(...args);
    } catch (error) {
      log(error);
    }
  };

/** Runs `fn` (guarded) after `ms`, or after the current task: commands issued together batch. */
export const soon = (fn: () => unknown, ms?: number): ReturnType<typeof setTimeout> => setTimeout(guard(fn), ms);

/**
 * Listens on the window in the capture phase, so that a page stopping propagation cannot hide
 * an event from us, and passively, so that we never delay scrolling or input.
 */
export const on = (types: string, listener: (event: Event) => void): void =>
  types.split(' ').forEach((type) => addEventListener(type, guard(listener), { capture: true, passive: true }));
