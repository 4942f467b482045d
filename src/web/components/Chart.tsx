/**
 * Drop attempts over time: a bar chart drawn by uPlot, loaded on demand (only the Container view
 * needs it, so the first page stays small). A text summary stands beside it for screen readers
 * and for browsers without canvas.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import type uPlot from 'uplot';
import { clock, count, counted, toMs } from '../format.js';
import type { Timestamp } from '../client/types.js';

type UPlotCtor = typeof uPlot;
let loading: Promise<UPlotCtor> | null = null;
function loadUPlot(): Promise<UPlotCtor> {
  loading ??= Promise.all([import('uplot'), import('uplot/dist/uPlot.min.css')]).then(([m]) => m.default);
  return loading;
}

function cssVar(name: string, fallback: string): string {
  const v = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  return v || fallback;
}

export function summary(points: { t: Timestamp; count: number }[]): string {
  const total = points.reduce((s, p) => s + p.count, 0);
  if (!total) return 'No drop attempts in this period.';
  const peak = points.reduce((a, b) => (b.count > a.count ? b : a));
  return `${counted(total, 'drop attempt')}; busiest 5 minutes at ${clock(peak.t)} with ${count(peak.count)}.`;
}

/**
 * The x range (seconds) for bucket starts `xs`: from the first bucket's start to the *end* of the
 * last one, so the newest bucket — where live data lands — is drawn whole, not cut at the edge.
 */
export function xRange(xs: number[], fallbackStep = 300): [number, number] {
  if (!xs.length) return [0, fallbackStep];
  const step = xs.length > 1 ? xs[xs.length - 1] - xs[xs.length - 2] : fallbackStep;
  return [xs[0], xs[xs.length - 1] + (step > 0 ? step : fallbackStep)];
}

export function SeriesChart({ points, label }: { points: { t: Timestamp; count: number }[]; label: string }) {
  const box = useRef<HTMLDivElement>(null);
  const [failed, setFailed] = useState(false);
  const [themeTick, setThemeTick] = useState(0);

  useEffect(() => {
    const on = () => setThemeTick((n) => n + 1);
    window.addEventListener('lanfence-theme', on);
    return () => window.removeEventListener('lanfence-theme', on);
  }, []);

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    let chart: uPlot | null = null;
    let observer: ResizeObserver | null = null;
    let cancelled = false;
    const xs = points.map((p) => (toMs(p.t) ?? 0) / 1000);
    const ys = points.map((p) => p.count);
    loadUPlot()
      .then((UPlot) => {
        if (cancelled) return;
        const text = cssVar('--text-muted', '#555');
        const grid = cssVar('--border', '#ddd');
        const bar = cssVar('--chart', '#2563eb');
        const width = () => Math.max(280, el.clientWidth || 600);
        const height = () => (window.innerWidth < 600 ? 180 : 240);
        const axis = { stroke: text, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } };
        chart = new UPlot(
          {
            width: width(),
            height: height(),
            legend: { show: false },
            cursor: { drag: { x: false, y: false } },
            scales: { x: { time: true, range: () => xRange(xs) }, y: { range: (_u, _min, max) => [0, Math.max(1, Math.ceil(max * 1.1))] } },
            axes: [axis, { ...axis, size: 44 }],
            series: [
              {},
              { label: 'drops', stroke: bar, fill: bar + 'cc', width: 0, paths: UPlot.paths.bars!({ align: 1, size: [0.85, 24, 3] }), points: { show: false } },
            ],
          },
          [xs, ys],
          el,
        );
        if (typeof ResizeObserver === 'function') {
          observer = new ResizeObserver(() => chart?.setSize({ width: width(), height: height() }));
          observer.observe(el);
        }
      })
      .catch(() => !cancelled && setFailed(true));
    return () => {
      cancelled = true;
      observer?.disconnect();
      chart?.destroy();
    };
  }, [points, themeTick]);

  return (
    <figure class="chart" aria-label={label}>
      <div ref={box} class="chart-canvas" aria-hidden="true" />
      <figcaption class={failed ? '' : 'muted small'}>{summary(points)}</figcaption>
    </figure>
  );
}
