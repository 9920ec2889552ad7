import type { ComponentChildren } from 'preact';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { ApiError } from '../api.js';

/** Loads data for a view; reloads when `deps` change; aborts the previous load. */
export function useAsync<T>(
  fn: (signal: AbortSignal) => Promise<T>,
  deps: unknown[],
): { data: T | undefined; error: Error | undefined; loading: boolean; reload: () => void } {
  const [state, setState] = useState<{ data?: T; error?: Error; loading: boolean }>({
    loading: true,
  });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    const ctrl = new AbortController();
    setState((s) => ({ data: s.data, loading: true }));
    fn(ctrl.signal).then(
      (data) => !ctrl.signal.aborted && setState({ data, loading: false }),
      (error: Error) =>
        !ctrl.signal.aborted && error.name !== 'AbortError' && setState({ error, loading: false }),
    );
    return () => ctrl.abort();
  }, [...deps, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { data: state.data, error: state.error, loading: state.loading, reload };
}

export function Loading({ what }: { what: string }) {
  return (
    <p class="muted" role="status">
      Loading {what}…
    </p>
  );
}

export function ErrorNote({ error }: { error: Error }) {
  const msg =
    error instanceof ApiError && error.status === 403
      ? 'This API key may not see this. Sign in with a key that covers this website.'
      : error instanceof ApiError && error.status === 404
        ? 'Not found: it may have been deleted, or the link is wrong.'
        : error.message;
  return (
    <p class="error" role="alert">
      {msg}
    </p>
  );
}

export function Empty({ title, children }: { title: string; children?: ComponentChildren }) {
  return (
    <div class="empty">
      <h2>{title}</h2>
      {children}
    </div>
  );
}

/** A table that scrolls sideways on narrow screens; focusable so the keyboard can scroll it. */
export function TableWrap({ label, children }: { label: string; children: ComponentChildren }) {
  return (
    <div class="table-wrap" role="region" aria-label={label} tabIndex={0}>
      {children}
    </div>
  );
}

export function CopyButton({ text, label }: { text: string; label: string }) {
  const [done, setDone] = useState(false);
  const timer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  useEffect(() => () => clearTimeout(timer.current), []);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
    } catch {
      // Without clipboard permission (plain http), select the text for a manual copy.
      const ta = document.createElement('textarea');
      ta.value = text;
      document.body.append(ta);
      ta.select();
      document.execCommand('copy');
      ta.remove();
    }
    setDone(true);
    clearTimeout(timer.current);
    timer.current = setTimeout(() => setDone(false), 2000);
  };
  return (
    <button type="button" class="secondary small" onClick={() => void copy()} aria-label={label}>
      {done ? 'Copied' : 'Copy'}
      <span class="visually-hidden" aria-live="polite">
        {done ? ' copied to the clipboard' : ''}
      </span>
    </button>
  );
}

/** Sets the document title (what a screen reader announces after navigation). */
export function useTitle(title: string): void {
  useEffect(() => {
    document.title = `${title} · Goalpost`;
  }, [title]);
}

export function Trend({ pct }: { pct: number | null }) {
  if (pct === null) return <span class="muted">–</span>;
  const up = pct > 0;
  const flat = pct === 0;
  const label = flat
    ? 'unchanged against the previous period'
    : `${up ? 'up' : 'down'} ${Math.abs(pct).toFixed(1)}% against the previous period`;
  return (
    <span class={flat ? 'trend' : up ? 'trend up' : 'trend down'} title={label}>
      <span aria-hidden="true">{flat ? '→' : up ? '▲' : '▼'} </span>
      <span class="visually-hidden">{label}</span>
      <span aria-hidden="true">{Math.abs(pct).toFixed(1)}%</span>
    </span>
  );
}
