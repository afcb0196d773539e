/** Small, dependency-free SVG line charts for the markdown report. */

export interface Series {
  name: string;
  points: { x: number; y: number }[];
}

export interface ChartSpec {
  title: string;
  xLabel: string;
  yLabel: string;
  logX?: boolean;
  logY?: boolean;
  series: Series[];
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#7f7f7f'];

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function formatTick(v: number): string {
  const a = Math.abs(v);
  if (a === 0) return '0';
  if (Number.isInteger(v) && a < 1e6) return String(v);
  if (a >= 1e4 || a < 1e-2) return v.toExponential(0).replace('e+', 'e');
  return Number(v.toPrecision(3)).toString();
}

function ticks(lo: number, hi: number, log: boolean, data: readonly number[] = []): number[] {
  if (log) {
    const out: number[] = [];
    for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) out.push(10 ** e);
    const inside = out.filter((t) => t >= lo / 1.0001 && t <= hi * 1.0001);
    if (inside.length >= 2) return inside;
    // Less than a decade between ticks: label the data's own values (sequence lengths 512 … 4096, ...).
    const distinct = [...new Set(data)].sort((a, b) => a - b);
    return distinct.length >= 2 && distinct.length <= 10 ? distinct : [lo, hi];
  }
  const span = hi - lo || Math.abs(hi) || 1;
  const step = 10 ** Math.floor(Math.log10(span / 4));
  const nice = [1, 2, 5, 10].map((m) => m * step).find((s) => span / s <= 6) ?? step * 10;
  const out: number[] = [];
  for (let t = Math.ceil(lo / nice) * nice; t <= hi + 1e-12; t += nice) out.push(Number(t.toPrecision(12)));
  return out;
}

/** A line chart with axes, grid, tick labels, axis titles and a legend. Returns '' when there is no data. */
export function lineChart(spec: ChartSpec): string {
  const width = 640;
  const height = 380;
  const m = { left: 70, right: 180, top: 36, bottom: 52 };
  const valid = (v: number, log?: boolean) => Number.isFinite(v) && (!log || v > 0);
  const pts = spec.series.flatMap((s) => s.points);
  const xs = pts.map((p) => p.x).filter((x) => valid(x, spec.logX));
  const ys = pts.map((p) => p.y).filter((y) => valid(y, spec.logY));
  if (xs.length === 0 || ys.length === 0) return '';
  let [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  let [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  if (x0 === x1) [x0, x1] = spec.logX ? [x0 / 2, x1 * 2] : [x0 - 1, x1 + 1];
  if (y0 === y1) [y0, y1] = spec.logY ? [y0 / 2, y1 * 2] : [y0 - 1, y1 + 1];
  if (!spec.logY && y0 > 0) y0 = 0;
  const tx = (v: number) => (spec.logX ? Math.log10(v) : v);
  const ty = (v: number) => (spec.logY ? Math.log10(v) : v);
  const sx = (v: number) => m.left + ((tx(v) - tx(x0)) / (tx(x1) - tx(x0))) * (width - m.left - m.right);
  const sy = (v: number) => height - m.bottom - ((ty(v) - ty(y0)) / (ty(y1) - ty(y0))) * (height - m.top - m.bottom);
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12" role="img">`,
    `<title>${escapeXml(spec.title)}: ${escapeXml(spec.yLabel)} against ${escapeXml(spec.xLabel)}</title>`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${m.left}" y="22" font-size="14" font-weight="bold">${escapeXml(spec.title)}</text>`,
  ];
  for (const t of ticks(x0, x1, !!spec.logX, xs)) {
    const x = sx(t).toFixed(1);
    parts.push(`<line x1="${x}" y1="${m.top}" x2="${x}" y2="${height - m.bottom}" stroke="#eee"/>`);
    parts.push(`<text x="${x}" y="${height - m.bottom + 16}" text-anchor="middle">${formatTick(t)}</text>`);
  }
  for (const t of ticks(y0, y1, !!spec.logY, ys)) {
    const y = sy(t).toFixed(1);
    parts.push(`<line x1="${m.left}" y1="${y}" x2="${width - m.right}" y2="${y}" stroke="#eee"/>`);
    parts.push(`<text x="${m.left - 6}" y="${Number(y) + 4}" text-anchor="end">${formatTick(t)}</text>`);
  }
  parts.push(
    `<line x1="${m.left}" y1="${height - m.bottom}" x2="${width - m.right}" y2="${height - m.bottom}" stroke="#333"/>`,
    `<line x1="${m.left}" y1="${m.top}" x2="${m.left}" y2="${height - m.bottom}" stroke="#333"/>`,
    `<text x="${(m.left + width - m.right) / 2}" y="${height - 12}" text-anchor="middle">${escapeXml(spec.xLabel)}</text>`,
    `<text transform="translate(16 ${(m.top + height - m.bottom) / 2}) rotate(-90)" text-anchor="middle">${escapeXml(spec.yLabel)}</text>`,
  );
  spec.series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length]!;
    const p = s.points.filter((q) => valid(q.x, spec.logX) && valid(q.y, spec.logY)).sort((a, b) => a.x - b.x);
    if (p.length === 0) return;
    const coords = p.map((q) => `${sx(q.x).toFixed(1)},${sy(q.y).toFixed(1)}`);
    parts.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${coords.join(' ')}"/>`);
    for (const c of coords) {
      const [cx, cy] = c.split(',');
      parts.push(`<circle cx="${cx}" cy="${cy}" r="3" fill="${color}"/>`);
    }
    const ly = m.top + 8 + i * 18;
    const label = s.name.length > 24 ? `${s.name.slice(0, 23)}…` : s.name;
    parts.push(
      `<line x1="${width - m.right + 12}" y1="${ly}" x2="${width - m.right + 30}" y2="${ly}" stroke="${color}" stroke-width="2"/>`,
      `<text x="${width - m.right + 34}" y="${ly + 4}">${escapeXml(label)}</text>`,
    );
  });
  parts.push('</svg>');
  return parts.join('\n');
}
