// Line charts as plain SVG for the benchmark report: axes with ticks and labels, one coloured line
// with markers per series, a legend, optional reference lines (y = x, a target), linear or
// logarithmic y. Only basic SVG (no CSS, no scripts, no web fonts), so any viewer and headless
// Chromium draw it the same. A point may be censored (a value known only to exceed the axis top,
// such as a p99 over the timeout): it is drawn hollow at the top edge.
export interface ChartPoint {
  x: number;
  /** null: no value (the point is skipped). */
  y: number | null;
  /** The true value is above `y` (drawn hollow, at most at the top of the axis). */
  censored?: boolean;
}

export interface ChartSeries {
  name: string;
  /** A second, smaller legend line (e.g. the closed-loop rate). */
  detail?: string;
  points: ChartPoint[];
}

export interface ChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  series: ChartSeries[];
  width?: number;
  height?: number;
  logY?: boolean;
  /** y = x, dashed (achieved equals offered). */
  diagonal?: boolean;
  /** Horizontal dashed lines (targets). */
  yLines?: Array<{ y: number; label: string }>;
  note?: string;
}

const LEGEND_ROW = 36;
const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf'];

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** About `count` round ticks from 0 (or `min`) to at least `max`. */
export function linearTicks(min: number, max: number, count = 6): number[] {
  const span = Math.max(max - min, 1e-9);
  const raw = span / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => span / s <= count) ?? 10 * mag;
  const ticks: number[] = [];
  for (let v = Math.floor(min / step) * step; v <= max + step * 0.999; v += step) ticks.push(Math.round(v * 1e6) / 1e6);
  return ticks;
}

/** 1, 2, 5 per decade from below `min` to above `max`. */
export function logTicks(min: number, max: number): number[] {
  const ticks: number[] = [];
  for (let e = Math.floor(Math.log10(min)); e <= Math.ceil(Math.log10(max)); e++) {
    for (const m of [1, 2, 5]) ticks.push(m * 10 ** e);
  }
  const lo = ticks.filter((t) => t <= min).pop() ?? ticks[0]!;
  const hi = ticks.find((t) => t >= max) ?? ticks[ticks.length - 1]!;
  return ticks.filter((t) => t >= lo && t <= hi);
}

function label(v: number): string {
  if (v >= 100_000) return `${Math.round(v / 1000)}k`;
  return (Math.round(v * 100) / 100).toLocaleString('en-US');
}

export function lineChart(o: ChartOptions): string {
  const width = o.width ?? 900;
  const height = o.height ?? 500;
  const m = { left: 80, right: 200, top: 50, bottom: 60 };
  const pw = width - m.left - m.right;
  const ph = height - m.top - m.bottom;
  const points = o.series.flatMap((s) => s.points).filter((p) => p.y !== null) as Array<ChartPoint & { y: number }>;
  const xs = o.series.flatMap((s) => s.points.map((p) => p.x));
  const xMax = Math.max(1, ...xs, ...(o.diagonal ? points.map((p) => p.y) : []));
  const xTicks = linearTicks(0, xMax * 1.05);
  const xTop = xTicks[xTicks.length - 1]!;
  const ys = [...points.map((p) => p.y), ...(o.yLines ?? []).map((l) => l.y)];
  let yTicks: number[];
  if (o.logY) {
    const positive = ys.filter((y) => y > 0);
    yTicks = logTicks(positive.length ? Math.min(...positive) : 1, Math.max(...positive, 10));
  } else yTicks = linearTicks(0, Math.max(1, ...ys, ...(o.diagonal ? xs : [])) * 1.05);
  const yBottom = yTicks[0]!;
  const yTop = yTicks[yTicks.length - 1]!;
  const sx = (x: number) => m.left + (x / xTop) * pw;
  const sy = (y: number) => {
    const v = Math.min(Math.max(y, yBottom), yTop);
    const f = o.logY ? (Math.log10(v) - Math.log10(yBottom)) / (Math.log10(yTop) - Math.log10(yBottom)) : (v - yBottom) / (yTop - yBottom);
    return m.top + ph - f * ph;
  };
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="DejaVu Sans, Arial, sans-serif" font-size="13">`);
  out.push(`<rect x="0" y="0" width="${width}" height="${height}" fill="#ffffff"/>`);
  out.push(`<text x="${m.left + pw / 2}" y="28" text-anchor="middle" font-size="17" font-weight="bold">${esc(o.title)}</text>`);
  // Grid and ticks.
  for (const t of xTicks) {
    const x = sx(t).toFixed(1);
    out.push(`<line x1="${x}" y1="${m.top}" x2="${x}" y2="${m.top + ph}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${x}" y="${m.top + ph + 20}" text-anchor="middle" fill="#333">${label(t)}</text>`);
  }
  for (const t of yTicks) {
    const y = sy(t).toFixed(1);
    out.push(`<line x1="${m.left}" y1="${y}" x2="${m.left + pw}" y2="${y}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${m.left - 8}" y="${(Number(y) + 4).toFixed(1)}" text-anchor="end" fill="#333">${label(t)}</text>`);
  }
  out.push(`<line x1="${m.left}" y1="${m.top + ph}" x2="${m.left + pw}" y2="${m.top + ph}" stroke="#333"/>`);
  out.push(`<line x1="${m.left}" y1="${m.top}" x2="${m.left}" y2="${m.top + ph}" stroke="#333"/>`);
  out.push(`<text x="${m.left + pw / 2}" y="${height - 18}" text-anchor="middle" fill="#111">${esc(o.xLabel)}</text>`);
  out.push(`<text transform="translate(20 ${m.top + ph / 2}) rotate(-90)" text-anchor="middle" fill="#111">${esc(o.yLabel)}${o.logY ? ' (log scale)' : ''}</text>`);
  // Reference lines.
  if (o.diagonal) {
    const top = Math.min(xTop, yTop);
    out.push(`<line x1="${sx(0)}" y1="${sy(Math.max(yBottom, 0))}" x2="${sx(top).toFixed(1)}" y2="${sy(top).toFixed(1)}" stroke="#999" stroke-dasharray="6 4"/>`);
    out.push(`<text x="${(sx(top) - 6).toFixed(1)}" y="${(sy(top) + 16).toFixed(1)}" text-anchor="end" fill="#777" font-size="12">achieved = offered</text>`);
  }
  for (const l of o.yLines ?? []) {
    const y = sy(l.y).toFixed(1);
    out.push(`<line x1="${m.left}" y1="${y}" x2="${m.left + pw}" y2="${y}" stroke="#b00" stroke-dasharray="6 4"/>`);
    out.push(`<text x="${m.left + pw - 4}" y="${(Number(y) - 5).toFixed(1)}" text-anchor="end" fill="#b00" font-size="12">${esc(l.label)}</text>`);
  }
  // Series.
  o.series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length]!;
    const pts = s.points.filter((p) => p.y !== null).sort((a, b) => a.x - b.x) as Array<ChartPoint & { y: number }>;
    if (pts.length > 1) {
      out.push(`<polyline fill="none" stroke="${color}" stroke-width="2.5" points="${pts.map((p) => `${sx(p.x).toFixed(1)},${sy(p.y).toFixed(1)}`).join(' ')}"/>`);
    }
    for (const p of pts) {
      const fill = p.censored ? '#ffffff' : color;
      out.push(`<circle cx="${sx(p.x).toFixed(1)}" cy="${sy(p.y).toFixed(1)}" r="5" fill="${fill}" stroke="${color}" stroke-width="2"/>`);
    }
    const ly = m.top + 10 + i * LEGEND_ROW;
    out.push(`<line x1="${m.left + pw + 20}" y1="${ly}" x2="${m.left + pw + 44}" y2="${ly}" stroke="${color}" stroke-width="2.5"/>`);
    out.push(`<circle cx="${m.left + pw + 32}" cy="${ly}" r="4" fill="${color}"/>`);
    out.push(`<text x="${m.left + pw + 52}" y="${ly + 4}" fill="#111">${esc(s.name)}</text>`);
    if (s.detail) out.push(`<text x="${m.left + pw + 52}" y="${ly + 19}" fill="#555" font-size="11">${esc(s.detail)}</text>`);
  });
  if (o.note) {
    const ly = m.top + 10 + o.series.length * LEGEND_ROW + 4;
    o.note.split('\n').forEach((line, k) => out.push(`<text x="${m.left + pw + 20}" y="${ly + k * 16}" fill="#555" font-size="11">${esc(line)}</text>`));
  }
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
