/**
 * The dashboard's client of the public API: the same routes and bodies as any other client.
 * The API key lives in sessionStorage (gone when the tab closes) and travels only as the
 * `Authorization` header, never in a URL or a cookie.
 */

const KEY_STORAGE = 'goalpost.apiKey';

export const getKey = (): string | null => sessionStorage.getItem(KEY_STORAGE);
export const setKey = (key: string): void => sessionStorage.setItem(KEY_STORAGE, key);
export const clearKey = (): void => sessionStorage.removeItem(KEY_STORAGE);

/** An error answer of the API (`{error: {code, message, field}}`), or a network failure (status 0). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** The field at fault, as the API names it (`name`, `property_filters[0].value`), or null. */
    readonly field: string | null = null,
  ) {
    super(message);
  }
}

/** Called when the API answers 401: the key was revoked or is wrong; the app signs out. */
let onUnauthorized: () => void = () => undefined;
export const setUnauthorizedHandler = (fn: () => void): void => {
  onUnauthorized = fn;
};

type Query = Record<string, string | number | boolean | undefined | null>;

export function withQuery(path: string, query: Query = {}): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query))
    if (v !== undefined && v !== null) q.set(k, String(v));
  const s = q.toString();
  return s ? `${path}?${s}` : path;
}

export async function api<T>(
  path: string,
  opts: { method?: string; body?: unknown; query?: Query; signal?: AbortSignal; key?: string } = {},
): Promise<T> {
  const key = opts.key ?? getKey();
  const headers: Record<string, string> = {};
  if (key) headers.authorization = `Bearer ${key}`;
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch(withQuery(path, opts.query), {
      method: opts.method ?? 'GET',
      headers,
      body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
      signal: opts.signal,
      cache: 'no-store',
    });
  } catch (err) {
    if ((err as Error).name === 'AbortError') throw err;
    throw new ApiError(0, 'network_error', 'The API could not be reached.');
  }
  if (res.status === 204) return undefined as T;
  const body = (await res.json().catch(() => null)) as {
    error?: { code?: string; message?: string; field?: string | null } | string;
  } | null;
  if (!res.ok) {
    const e = body?.error;
    const err =
      typeof e === 'object' && e !== null
        ? new ApiError(res.status, e.code ?? 'error', e.message ?? res.statusText, e.field ?? null)
        : new ApiError(res.status, 'error', typeof e === 'string' ? e : res.statusText);
    if (res.status === 401 && opts.key === undefined) onUnauthorized();
    throw err;
  }
  return body as T;
}

/** Runs `fn` over `items` with at most `limit` calls in flight (the goals table's stats). */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

// ---- shapes of the API's answers (the subset the dashboard reads) ----

export type * from './api-types.js';

export interface FunnelSummary {
  id: string;
  name: string;
  step_count: number;
}

export interface FunnelStepResult {
  step_order: number;
  label: string;
  sessions_reached: number;
  drop_off_count: number;
  drop_off_rate: number;
  conversion_rate_from_start: number;
  conversion_rate_from_previous: number;
}

export interface FunnelResults {
  funnel_id: string;
  name: string;
  total_sessions_entered: number;
  final_conversion_rate: number;
  steps: FunnelStepResult[];
}

export const sitePath = (site: string) => `/api/websites/${encodeURIComponent(site)}`;
