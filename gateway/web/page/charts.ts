/**
 * Small SVG line charts: no chart library, so the page stays light on a phone. Pure functions
 * from series to SVG markup (escaped), tested without a browser.
 */

export interface Series {
  name: string;
  /** CSS colour or variable. */
  color: string;
  points: Array<{ t: number; v: number }>;
  dashed?: boolean;
}

export interface ChartOptions {
  width?: number;
  height?: number;
  unit: string;
  /** Formats a time (ms) for the axis. */
  time?: (t: number) => string;
}

function esc(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function niceNumber(v: number): string {
  const abs = Math.abs(v);
  if (abs >= 1000) return `${(v / 1000).toFixed(abs >= 10_000 ? 0 : 1)}k`;
  return abs >= 10 || v === 0 ? v.toFixed(0) : v.toFixed(1);
}

/** An SVG line chart of one or more series sharing a time axis; null when there is nothing to draw. */
export function lineChart(series: Series[], options: ChartOptions): string | null {
  const all = series.flatMap((s) => s.points).filter((p) => Number.isFinite(p.t) && Number.isFinite(p.v));
  if (all.length === 0) return null;
  const width = options.width ?? 360;
  const height = options.height ?? 160;
  const pad = { left: 40, right: 8, top: 10, bottom: 20 };
  let tMin = Math.min(...all.map((p) => p.t));
  let tMax = Math.max(...all.map((p) => p.t));
  let vMin = Math.min(0, ...all.map((p) => p.v));
  let vMax = Math.max(0, ...all.map((p) => p.v));
  if (tMax === tMin) [tMin, tMax] = [tMin - 1, tMax + 1];
  if (vMax === vMin) [vMin, vMax] = [vMin - 1, vMax + 1];
  const x = (t: number) => pad.left + ((t - tMin) / (tMax - tMin)) * (width - pad.left - pad.right);
  const y = (v: number) => pad.top + (1 - (v - vMin) / (vMax - vMin)) * (height - pad.top - pad.bottom);
  const time = options.time ?? ((t: number) => new Date(t).toISOString().slice(11, 16));
  const lines = series
    .filter((s) => s.points.length > 0)
    .map((s) => {
      const d = s.points.map((p) => `${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`).join(' ');
      return `<polyline data-series="${esc(s.name)}" fill="none" stroke="${esc(s.color)}" stroke-width="2" stroke-linejoin="round"${s.dashed ? ' stroke-dasharray="5 4"' : ''} points="${d}"/>`;
    })
    .join('');
  const zero =
    vMin < 0 && vMax > 0
      ? `<line class="zero" x1="${pad.left}" x2="${width - pad.right}" y1="${y(0).toFixed(1)}" y2="${y(0).toFixed(1)}"/>`
      : '';
  const axis = [
    `<text x="${pad.left - 4}" y="${pad.top + 4}" text-anchor="end">${esc(niceNumber(vMax))}</text>`,
    `<text x="${pad.left - 4}" y="${height - pad.bottom}" text-anchor="end">${esc(niceNumber(vMin))}</text>`,
    `<text x="${pad.left - 4}" y="${(height - pad.bottom + pad.top) / 2 + 4}" text-anchor="end">${esc(options.unit)}</text>`,
    `<text x="${pad.left}" y="${height - 4}">${esc(time(tMin))}</text>`,
    `<text x="${width - pad.right}" y="${height - 4}" text-anchor="end">${esc(time(tMax))}</text>`,
  ].join('');
  const legend = series.map((s) => esc(s.name)).join(', ');
  return `<svg class="chart" viewBox="0 0 ${width} ${height}" role="img" aria-label="${legend} in ${esc(options.unit)}" preserveAspectRatio="none"><rect class="plot" x="${pad.left}" y="${pad.top}" width="${width - pad.left - pad.right}" height="${height - pad.top - pad.bottom}"/>${zero}${lines}${axis}</svg>`;
}
