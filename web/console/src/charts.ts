// Charts drawn as SVG by hand: a stacked column per hour and horizontal
// bars per group. Each chart is an image with a text alternative, and the
// same numbers are in a table beside it (for screen readers and print).
import { s } from './dom';

export interface Series { key: string; label: string; className: string }

export function stackedColumns(
  title: string,
  points: { label: string; values: Record<string, number> }[],
  series: Series[],
): SVGElement {
  const width = 720, height = 220, left = 44, bottom = 28, top = 10;
  const plotW = width - left - 10, plotH = height - top - bottom;
  const totals = points.map((p) => series.reduce((a, se) => a + (p.values[se.key] ?? 0), 0));
  const max = Math.max(1, ...totals);
  const step = plotW / Math.max(1, points.length);
  const barW = Math.max(1, step * 0.8);
  const total = totals.reduce((a, b) => a + b, 0);
  const svg = s('svg', {
    viewBox: `0 0 ${width} ${height}`, role: 'img', class: 'chart',
    'aria-label': `${title}: ${total} in all over ${points.length} periods; the table below gives every number.`,
  });
  // Axis and gridlines at 0, max/2, max.
  for (const f of [0, 0.5, 1]) {
    const y = top + plotH - f * plotH;
    svg.appendChild(s('line', { x1: left, x2: width - 10, y1: y, y2: y, class: 'grid' }));
    svg.appendChild(s('text', { x: left - 6, y: y + 4, 'text-anchor': 'end', class: 'tick' }, String(Math.round(f * max))));
  }
  points.forEach((p, i) => {
    let y = top + plotH;
    for (const se of series) {
      const v = p.values[se.key] ?? 0;
      if (!v) continue;
      const hgt = (v / max) * plotH;
      y -= hgt;
      svg.appendChild(
        s('rect', { x: left + i * step + (step - barW) / 2, y, width: barW, height: hgt, class: se.className },
          s('title', {}, `${p.label}: ${v} ${se.label}`)),
      );
    }
    if (points.length <= 24 ? i % 3 === 0 : i % Math.ceil(points.length / 8) === 0) {
      svg.appendChild(s('text', { x: left + i * step + step / 2, y: height - 8, 'text-anchor': 'middle', class: 'tick' }, p.label));
    }
  });
  return svg;
}

export function horizontalBars(title: string, rows: { label: string; values: Record<string, number> }[], series: Series[]): SVGElement {
  const width = 720, rowH = 22, left = 260, top = 4;
  const height = top * 2 + Math.max(1, rows.length) * rowH;
  const totals = rows.map((r) => series.reduce((a, se) => a + (r.values[se.key] ?? 0), 0));
  const max = Math.max(1, ...totals);
  const svg = s('svg', {
    viewBox: `0 0 ${width} ${height}`, role: 'img', class: 'chart',
    'aria-label': `${title}: ${rows.length} groups; the table below gives every number.`,
  });
  rows.forEach((r, i) => {
    const y = top + i * rowH;
    svg.appendChild(s('text', { x: left - 8, y: y + 15, 'text-anchor': 'end', class: 'label' }, r.label));
    let x = left;
    for (const se of series) {
      const v = r.values[se.key] ?? 0;
      if (!v) continue;
      const w = (v / max) * (width - left - 60);
      svg.appendChild(s('rect', { x, y: y + 3, width: w, height: rowH - 6, class: se.className }, s('title', {}, `${r.label}: ${v} ${se.label}`)));
      x += w;
    }
    svg.appendChild(s('text', { x: x + 6, y: y + 15, class: 'tick' }, String(totals[i])));
  });
  return svg;
}
