import { useEffect, useState } from 'preact/hooks';

/**
 * A hash router: the view and all its settings (range, time zone, bots, filters) live in
 * `#/path?query`, so a view can be shared and reloaded, and the server needs no fallback route.
 */
export interface Route {
  path: string;
  segments: string[];
  query: URLSearchParams;
}

export function currentRoute(): Route {
  const raw = location.hash.replace(/^#/, '') || '/';
  const [path = '/', qs = ''] = raw.split('?', 2);
  return {
    path,
    segments: path.split('/').filter(Boolean).map(decodeURIComponent),
    query: new URLSearchParams(qs),
  };
}

export function useRoute(): Route {
  const [route, setRoute] = useState(currentRoute);
  useEffect(() => {
    const on = () => setRoute(currentRoute());
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return route;
}

export function href(path: string, query?: URLSearchParams | Record<string, string>): string {
  const q = query instanceof URLSearchParams ? query : new URLSearchParams(query);
  const s = q.toString();
  return `#${path}${s ? `?${s}` : ''}`;
}

export function navigate(path: string, query?: URLSearchParams | Record<string, string>): void {
  location.hash = href(path, query).slice(1);
}

/** Changes query parameters of the current view (null removes one); adds a history entry. */
export function setQuery(changes: Record<string, string | null>): void {
  const r = currentRoute();
  for (const [k, v] of Object.entries(changes)) {
    if (v === null || v === '') r.query.delete(k);
    else r.query.set(k, v);
  }
  navigate(r.path, r.query);
}
