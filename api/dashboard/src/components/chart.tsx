import { useEffect, useRef, useState } from 'preact/hooks';
import type { TimeseriesPoint } from '../api.js';
import { fmtPct } from '../format.js';

export interface ChartProps {
  points: TimeseriesPoint[];
  previous: TimeseriesPoint[] | null;
  granularity: 'day' | 'hour';
  label: string;
}

/** Seconds since the epoch of a period (`YYYY-MM-DD` is drawn at its UTC midnight). */
const periodSeconds = (p: string) =>
  Date.parse(/^\d{4}-\d{2}-\d{2}$/.test(p) ? `${p}T00:00:00Z` : p) / 1000;

/**
 * Conversions, converting sessions and conversion rate over time with uPlot, and the previous
 * period's conversions drawn beside them (aligned by position: day n against day n). uPlot is
 * loaded when the first chart is shown, so it is not part of the first view's JavaScript.
 * The canvas is an image to screen readers; the same figures are in the table below it.
 */
export function Chart({ points, previous, granularity, label }: ChartProps) {
  const el = useRef<HTMLDivElement>(null);
  const [failed, setFailed] = useState(false);
  useEffect(() => {
    let plot: { destroy(): void; setSize(s: { width: number; height: number }): void } | null =
      null;
    let observer: ResizeObserver | null = null;
    let cancelled = false;
    void Promise.all([import('uplot'), import('uplot/dist/uPlot.min.css')])
      .then(([{ default: UPlot }]) => {
        if (cancelled || !el.current) return;
        const css = getComputedStyle(document.documentElement);
        const color = (v: string) => css.getPropertyValue(v).trim();
        const xs = points.map((p) => periodSeconds(p.period));
        const prev = points.map((_, i) => previous?.[i]?.conversions ?? null);
        const axis = {
          stroke: color('--fg-muted'),
          grid: { stroke: color('--grid') },
          ticks: { stroke: color('--grid') },
        };
        const width = el.current.clientWidth || 600;
        plot = new UPlot(
          {
            width,
            height: 260,
            tzDate: (ts: number) =>
              granularity === 'day'
                ? UPlot.tzDate(new Date(ts * 1000), 'UTC')
                : new Date(ts * 1000),
            scales: {
              x: { time: true },
              rate: { range: (_u, _min, max) => [0, Math.max(max, 0.01)] },
            },
            series: [
              {},
              {
                label: 'Conversions',
                stroke: color('--c1'),
                width: 2,
                points: { show: points.length < 40 },
              },
              {
                label: 'Converting sessions',
                stroke: color('--c2'),
                width: 2,
                points: { show: points.length < 40 },
              },
              {
                label: 'Conversion rate',
                stroke: color('--c3'),
                width: 1.5,
                scale: 'rate',
                value: (_u, v) => (v === null ? '–' : fmtPct(v, 2)),
              },
              ...(previous
                ? [
                    {
                      label: 'Conversions, previous period',
                      stroke: color('--c1'),
                      width: 1.5,
                      dash: [6, 4],
                    },
                  ]
                : []),
            ],
            axes: [
              axis,
              { ...axis, label: 'Conversions / sessions' },
              {
                ...axis,
                side: 1,
                scale: 'rate',
                grid: { show: false },
                values: (_u, vals) => vals.map((v) => fmtPct(v, 1)),
              },
            ],
          },
          [
            xs,
            points.map((p) => p.conversions),
            points.map((p) => p.converting_sessions),
            points.map((p) => p.conversion_rate),
            ...(previous ? [prev] : []),
          ] as unknown as [number[], ...Array<Array<number | null>>],
          el.current,
        );
        observer = new ResizeObserver(() => {
          if (el.current) plot?.setSize({ width: el.current.clientWidth, height: 260 });
        });
        observer.observe(el.current);
      })
      .catch(() => setFailed(true));
    return () => {
      cancelled = true;
      observer?.disconnect();
      plot?.destroy();
    };
  }, [points, previous, granularity]);
  if (failed) return <p class="error">The chart could not be loaded.</p>;
  return <div class="chart" ref={el} role="img" aria-label={label} />;
}
