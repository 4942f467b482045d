/** A small line chart as SVG: categorical x, linear or log y, one series per approach, min–max whiskers. */

export interface Series {
  name: string;
  color: string;
  dashed?: boolean;
  /** One point per x category (null: no value). */
  points: ({ y: number; lo?: number; hi?: number; label?: string } | null)[];
}

export interface ChartSpec {
  title: string;
  subtitle?: string;
  xLabel: string;
  yLabel: string;
  categories: string[];
  logY: boolean;
  yMin?: number;
  yMax?: number;
  series: Series[];
  /** Horizontal reference lines. */
  refs?: { y: number; label: string }[];
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const fmt = (v: number) => (v >= 1_000_000 ? `${+(v / 1_000_000).toFixed(1)}M` : v >= 1000 ? `${+(v / 1000).toFixed(v >= 10_000 ? 0 : 1)}k` : v >= 1 ? `${+v.toFixed(v >= 10 ? 0 : 1)}` : `${+v.toPrecision(2)}`);

export function lineChart(c: ChartSpec): string {
  const W = 860;
  const H = 480;
  const m = { l: 78, r: 250, t: 62, b: 58 };
  const pw = W - m.l - m.r;
  const ph = H - m.t - m.b;
  const values = c.series.flatMap((s) => s.points.flatMap((p) => (p ? [p.y, p.lo ?? p.y, p.hi ?? p.y] : []))).filter((v) => Number.isFinite(v) && (!c.logY || v > 0));
  let lo = c.yMin ?? Math.min(...values);
  let hi = c.yMax ?? Math.max(...values);
  if (c.logY) {
    lo = 10 ** Math.floor(Math.log10(lo));
    hi = 10 ** Math.ceil(Math.log10(hi));
  }
  const y = (v: number) => (c.logY ? m.t + ph - ((Math.log10(v) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * ph : m.t + ph - ((v - lo) / (hi - lo)) * ph);
  const x = (i: number) => m.l + (c.categories.length === 1 ? pw / 2 : (i / (c.categories.length - 1)) * pw);
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" font-family="DejaVu Sans, Arial, sans-serif" font-size="12">`);
  out.push(`<rect width="${W}" height="${H}" fill="#ffffff"/>`);
  out.push(`<text x="${m.l}" y="24" font-size="16" font-weight="bold">${esc(c.title)}</text>`);
  if (c.subtitle) out.push(`<text x="${m.l}" y="44" fill="#555">${esc(c.subtitle)}</text>`);
  // Grid and y ticks.
  const ticks: number[] = [];
  if (c.logY) for (let e = Math.log10(lo); e <= Math.log10(hi) + 1e-9; e++) for (const k of [1, 2, 5]) ticks.push(k * 10 ** e);
  else for (let i = 0; i <= 5; i++) ticks.push(lo + ((hi - lo) * i) / 5);
  for (const t of ticks.filter((t) => t >= lo * 0.999 && t <= hi * 1.001)) {
    out.push(`<line x1="${m.l}" x2="${m.l + pw}" y1="${y(t).toFixed(1)}" y2="${y(t).toFixed(1)}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${m.l - 8}" y="${(y(t) + 4).toFixed(1)}" text-anchor="end" fill="#333">${fmt(t)}</text>`);
  }
  c.categories.forEach((cat, i) => {
    out.push(`<line x1="${x(i).toFixed(1)}" x2="${x(i).toFixed(1)}" y1="${m.t}" y2="${m.t + ph}" stroke="#f0f0f0"/>`);
    out.push(`<text x="${x(i).toFixed(1)}" y="${m.t + ph + 20}" text-anchor="middle" fill="#333">${esc(cat)}</text>`);
  });
  out.push(`<rect x="${m.l}" y="${m.t}" width="${pw}" height="${ph}" fill="none" stroke="#999"/>`);
  out.push(`<text x="${m.l + pw / 2}" y="${H - 14}" text-anchor="middle">${esc(c.xLabel)}</text>`);
  out.push(`<text transform="translate(18 ${m.t + ph / 2}) rotate(-90)" text-anchor="middle">${esc(c.yLabel)}</text>`);
  for (const r of c.refs ?? []) {
    out.push(`<line x1="${m.l}" x2="${m.l + pw}" y1="${y(r.y).toFixed(1)}" y2="${y(r.y).toFixed(1)}" stroke="#c00" stroke-dasharray="2 3"/>`);
    out.push(`<text x="${m.l + pw - 4}" y="${(y(r.y) - 5).toFixed(1)}" text-anchor="end" fill="#c00">${esc(r.label)}</text>`);
  }
  c.series.forEach((s, si) => {
    const pts = s.points.map((p, i) => (p && Number.isFinite(p.y) && (!c.logY || p.y > 0) ? { ...p, i } : null)).filter((p): p is NonNullable<typeof p> => p !== null);
    if (pts.length > 1) out.push(`<polyline fill="none" stroke="${s.color}" stroke-width="2.2"${s.dashed ? ' stroke-dasharray="6 4"' : ''} points="${pts.map((p) => `${x(p.i).toFixed(1)},${y(p.y).toFixed(1)}`).join(' ')}"/>`);
    for (const p of pts) {
      if (p.lo !== undefined && p.hi !== undefined && p.hi > p.lo) out.push(`<line x1="${x(p.i).toFixed(1)}" x2="${x(p.i).toFixed(1)}" y1="${y(Math.max(p.lo, c.logY ? lo : -Infinity)).toFixed(1)}" y2="${y(p.hi).toFixed(1)}" stroke="${s.color}" stroke-width="1.2"/>`);
      out.push(`<circle cx="${x(p.i).toFixed(1)}" cy="${y(p.y).toFixed(1)}" r="3.6" fill="${s.color}"/>`);
    }
    const ly = m.t + 10 + si * 50;
    out.push(`<line x1="${m.l + pw + 16}" x2="${m.l + pw + 40}" y1="${ly}" y2="${ly}" stroke="${s.color}" stroke-width="2.5"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`);
    const words = s.name.split(' ');
    const lines: string[] = [''];
    for (const w of words) (lines[lines.length - 1] + ' ' + w).trim().length > 30 ? lines.push(w) : (lines[lines.length - 1] = (lines[lines.length - 1] + ' ' + w).trim());
    lines.forEach((l, li) => out.push(`<text x="${m.l + pw + 46}" y="${ly + 4 + li * 14}" fill="#222">${esc(l)}</text>`));
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}
