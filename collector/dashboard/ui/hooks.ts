/**
 * @module hooks
 * The hash route (every view is linkable), and a poller that refreshes a view without a reload
 * and drops answers that arrive after what they asked for changed.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, isApiError, type ApiError } from './api.js';

export interface Route {
  path: string[];
  params: URLSearchParams;
}

function readRoute(): Route {
  const [path = '', search = ''] = location.hash.replace(/^#\/?/, '').split('?');
  return { path: path.split('/').filter(Boolean).map(decodeURIComponent), params: new URLSearchParams(search) };
}

export function useRoute(): Route {
  const [route, setRoute] = useState(readRoute);
  const renderedHash = useRef(location.hash);
  useEffect(() => {
    const update = () => setRoute(readRoute());
    addEventListener('hashchange', update);
    // Effects run a frame after the first render: a hash changed in between (a link followed or a
    // URL typed while the page loads) fired its hashchange before anyone listened.
    if (location.hash !== renderedHash.current) update();
    return () => removeEventListener('hashchange', update);
  }, []);
  return route;
}

export function go(path: string, params: Record<string, string | undefined> = {}): void {
  const search = new URLSearchParams(Object.entries(params).filter((entry): entry is [string, string] => Boolean(entry[1]))).toString();
  location.hash = `#/${path}${search ? `?${search}` : ''}`;
}

export const POLL_MS = 5_000;

export interface Polled<T> {
  data: T | undefined;
  error: ApiError | undefined;
  loading: boolean;
  reload: () => void;
}

/** GETs `path` now and every {@link POLL_MS} while the page is visible; `null` pauses it. */
export function usePoll<T>(path: string | null, everyMs = POLL_MS): Polled<T> {
  const [state, setState] = useState<{ data?: T; error?: ApiError; loading: boolean; for?: string }>({ loading: true });
  const [tick, setTick] = useState(0);
  const current = useRef(path);
  current.current = path;
  useEffect(() => {
    if (path === null) return;
    const controller = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const load = async () => {
      try {
        const data = await api.get<T>(path, controller.signal);
        if (current.current === path) setState({ data, loading: false, for: path });
      } catch (error) {
        if ((error as Error).name === 'AbortError') return;
        if (current.current === path) setState((old) => ({ ...old, error: isApiError(error) ? error : { code: 'client', message: String(error), status: 0 }, loading: false }));
      }
      timer = setTimeout(() => {
        if (document.visibilityState === 'visible') void load();
        else timer = setTimeout(() => void load(), everyMs);
      }, everyMs);
    };
    setState((old) => ({ ...(old.for === path ? old : {}), loading: true }));
    void load();
    return () => {
      controller.abort();
      clearTimeout(timer);
    };
  }, [path, tick, everyMs]);
  return { data: state.for === path ? state.data : undefined, error: state.error, loading: state.loading, reload: () => setTick((n) => n + 1) };
}
