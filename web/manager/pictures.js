import { useEffect, useState } from 'preact/hooks';
import { api } from '../shared/api.js';
import { fmtMoney, html, ProblemView } from '../shared/ui.js';

/**
 * Pictures of the count: counted rows by variance value (losses left, gains
 * right), and record accuracy per zone. Each chart is plain SVG drawn from the
 * report, with the same figures in a table for screen readers and copying.
 */
export function Pictures({ doc }) {
  const [report, setReport] = useState(null);
  const [problem, setProblem] = useState(null);
  useEffect(() => {
    api('GET', `/reconciliations/${doc.id}/report`).then(setReport, setProblem);
  }, [doc.id]);
  if (!report) return html`<${ProblemView} problem=${problem} />${problem ? null : html`<p>Loading…</p>`}`;
  return html`<section aria-labelledby="pictures-title">
    <h3 id="pictures-title">Pictures</h3>
    <p>${report.rowsCounted} row(s) counted; ${report.withinTolerance} within tolerance
      (hit rate ${pct(report.hitRate)}); gross variance ${fmtMoney(report.grossVarianceValue)}, net ${fmtMoney(report.netVarianceValue)}.</p>
    <${Distribution} buckets=${report.distribution ?? []} />
    <${Accuracy} zones=${report.zones} />
  </section>`;
}

function pct(x) {
  return x === null || x === undefined ? 'none counted' : `${Math.round(x * 1000) / 10} %`;
}

function bucketLabel(b, short = (x) => String(x)) {
  if (b.from === 0 && b.to === 0) return '0';
  if (b.from === null) return `≤ ${short(b.to)}`;
  if (b.to === null) return `> ${short(b.from)}`;
  return `${short(b.from)} … ${short(b.to)}`;
}

/** Axis labels must fit under a bar: 1000 as 1k. */
const kilo = (x) => (Math.abs(x) >= 1000 ? `${x / 1000}k` : String(x));

/** Vertical bars, one per bucket, height by rows. */
function Distribution({ buckets }) {
  const W = 640, H = 220, pad = 30, bw = (W - pad) / Math.max(buckets.length, 1);
  const max = Math.max(1, ...buckets.map((b) => b.rows));
  return html`<figure>
    <figcaption><h4>Counted rows by variance value</h4></figcaption>
    <svg class="chart" viewBox=${`0 0 ${W} ${H + 40}`} width="100%" style=${{ maxWidth: `${W}px` }} role="img"
      aria-label=${`Rows by variance value: ${buckets.map((b) => `${bucketLabel(b)}: ${b.rows}`).join(', ')}`}>
      ${buckets.map((b, i) => {
        const h = (b.rows / max) * (H - 20);
        const cls = b.from === 0 && b.to === 0 ? 'bar-zero' : (b.to !== null && b.to <= 0 ? 'bar-loss' : 'bar-gain');
        return html`<g>
          <rect class=${cls} x=${pad + i * bw + 4} y=${H - h} width=${bw - 8} height=${h}></rect>
          <text x=${pad + i * bw + bw / 2} y=${H - h - 4} text-anchor="middle">${b.rows}</text>
          <text x=${pad + i * bw + bw / 2} y=${H + 16} text-anchor="middle">${bucketLabel(b, kilo)}</text>
        </g>`;
      })}
      <line x1=${pad} y1=${H} x2=${W} y2=${H} stroke="#1a1a1a"></line>
    </svg>
    <table aria-label="Rows by variance value">
      <thead><tr><th scope="col">Variance value</th><th scope="col" class="num">Rows</th><th scope="col" class="num">Value</th></tr></thead>
      <tbody>${buckets.map((b) => html`<tr><td>${bucketLabel(b)}</td><td class="num">${b.rows}</td><td class="num">${fmtMoney(b.value)}</td></tr>`)}</tbody>
    </table>
  </figure>`;
}

/** Horizontal bars per zone: the share of counted rows within tolerance. */
function Accuracy({ zones }) {
  const W = 640, row = 26, left = 90;
  const H = zones.length * row + 10;
  return html`<figure>
    <figcaption><h4>Record accuracy (hit rate) per zone</h4></figcaption>
    <svg class="chart" viewBox=${`0 0 ${W} ${H}`} width="100%" style=${{ maxWidth: `${W}px` }} role="img"
      aria-label=${`Hit rate per zone: ${zones.map((z) => `${z.zone} ${pct(z.hitRate)}`).join(', ')}`}>
      ${zones.map((z, i) => html`<g>
        <text x=${left - 6} y=${i * row + 18} text-anchor="end">${z.zone}</text>
        <rect class="bar-hit" x=${left} y=${i * row + 5} width=${(z.hitRate ?? 0) * (W - left - 60)} height=${row - 8}></rect>
        <text x=${left + (z.hitRate ?? 0) * (W - left - 60) + 6} y=${i * row + 18}>${pct(z.hitRate)}</text>
      </g>`)}
    </svg>
    <table aria-label="Accuracy per zone">
      <thead><tr><th scope="col">Zone</th><th scope="col" class="num">Counted</th><th scope="col" class="num">Within tolerance</th>
        <th scope="col" class="num">Hit rate</th><th scope="col" class="num">Gross value</th><th scope="col" class="num">Net value</th></tr></thead>
      <tbody>${zones.map((z) => html`<tr><td>${z.zone}</td><td class="num">${z.rowsCounted}</td><td class="num">${z.withinTolerance}</td>
        <td class="num">${pct(z.hitRate)}</td><td class="num">${fmtMoney(z.grossVarianceValue)}</td><td class="num">${fmtMoney(z.netVarianceValue)}</td></tr>`)}</tbody>
    </table>
  </figure>`;
}
