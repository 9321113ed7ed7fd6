import { useEffect, useState } from 'preact/hooks';
import { api, download, query } from '../shared/api.js';
import { fmtMoney, fmtQty, html, ProblemView, signed, Verdict, words } from '../shared/ui.js';
import { useDecision } from './decision.js';
import { StepProgress } from './progress.js';

const SHOWN = 100;

/**
 * Release: what will be posted and in which order, the posting as it goes,
 * failed rows with their reasons (retry or skip), and the adjustment order
 * for the ERP with its CSV.
 */
export function Release({ doc, decides, refresh }) {
  const d = useDecision(doc.id, refresh);
  const s = doc.status;
  return html`<section aria-labelledby="release-title">
    <h3 id="release-title">Release</h3>
    <${Verdict} text=${d.verdict} />
    <${ProblemView} problem=${d.problem} />
    ${s === 'review' ? html`<${Plan} doc=${doc} decides=${decides} d=${d} />` : null}
    ${s === 'releasing' ? html`<${Posting} doc=${doc} />` : null}
    ${s === 'awaiting_failed_rows' ? html`<${FailedRows} doc=${doc} decides=${decides} d=${d} />` : null}
    ${s === 'released' || s === 'cancelled' ? html`<${AdjustmentOrder} doc=${doc} />` : null}
    ${!['review', 'releasing', 'awaiting_failed_rows', 'released', 'cancelled'].includes(s) ? html`<p>Release comes after review; the reconciliation is ${words(s)}.</p>` : null}
  </section>`;
}

/** Rows with a difference that are Approved or Not Required: each becomes postings. */
function Plan({ doc, decides, d }) {
  const [plan, setPlan] = useState(null);
  const [problem, setProblem] = useState(null);
  useEffect(() => {
    const base = { minAbsVariance: 0.0001, state: 'counted', total: 'true', sort: 'location', order: 'asc' };
    Promise.all([
      api('GET', `/reconciliations/${doc.id}/rows${query({ ...base, approval: 'approved', limit: SHOWN })}`),
      api('GET', `/reconciliations/${doc.id}/rows${query({ ...base, approval: 'not_required', limit: SHOWN })}`),
    ]).then(([a, n]) => setPlan({ approved: a, notRequired: n }), setProblem);
  }, [doc]);
  const r = doc.progress?.rows;
  const inTheWay = r ? r.toApprove + r.markedForRecount + r.recounting + r.awaitingCount : 0;
  const rows = plan ? [...plan.approved.rows, ...plan.notRequired.rows].sort((a, b) => (a.location < b.location ? -1 : a.location > b.location ? 1 : 0)) : [];
  const total = plan ? plan.approved.total + plan.notRequired.total : 0;
  return html`<${ProblemView} problem=${problem} />
    <p>${plan ? `${total.toLocaleString()} row(s) with a difference will be posted (${plan.approved.total} approved, ${plan.notRequired.total} within tolerance).` : 'Loading…'}
      Each row posts in a fixed order: stock that decreases has its blocking corrected first, then the OUT transaction (task type Count);
      stock that increases gets the IN transaction first, then its blocking correction. Rows without a difference close without posting.</p>
    ${inTheWay > 0 ? html`<p class="problem" role="note">${inTheWay} row(s) are still to approve, marked for recount or being counted: the API will refuse the release until they are decided.</p>` : null}
    ${rows.length > 0 ? html`<div class="grid-wrap"><table aria-label="What will be posted">
      <thead><tr><th scope="col">Location</th><th scope="col">Item</th><th scope="col">Lot / serial / HU</th><th scope="col" class="num">Variance</th>
        <th scope="col">Postings in order</th><th scope="col" class="num">Value</th><th scope="col">Approval</th></tr></thead>
      <tbody>${rows.map((row) => html`<tr key=${row.id}>
        <td>${row.location}</td><td>${row.item}</td><td>${[row.lot, row.serial, row.handlingUnit].filter(Boolean).join(' / ')}</td>
        <td class="num">${signed(row.varianceQuantity)}</td>
        <td>${row.varianceQuantity < 0 ? `1. blocking correction (if blocked) 2. OUT ${fmtQty(-row.varianceQuantity)}` : `1. IN ${fmtQty(row.varianceQuantity)} 2. blocking correction (if blocked)`}</td>
        <td class="num">${signed(row.varianceValue, fmtMoney)}</td><td>${words(row.approval)}</td>
      </tr>`)}</tbody></table></div>
      ${total > rows.length ? html`<p class="hint">The first ${rows.length} by location are shown.</p>` : null}` : null}
    ${decides ? html`<p><button class="primary" disabled=${d.busy}
        onClick=${() => d.decide('release', undefined, (res) => `Release started: ${res.rowsToPost} row(s) to post in ${res.postings} posting(s); ${res.processedWithoutPosting} closed without posting.`)}>
        Release</button></p>` : null}`;
}

function Posting({ doc }) {
  const r = doc.progress?.rows;
  const todo = r ? r.posting + r.processed + r.failed : 0;
  return html`<p>Posting…</p>
    <${StepProgress} doc=${doc} />
    ${r ? html`<div><progress max=${Math.max(todo, 1)} value=${r.processed} aria-label="Rows posted"></progress>
      <span>${r.processed} of ${todo} row(s) posted, ${r.failed} failed</span></div>` : null}`;
}

function FailedRows({ doc, decides, d }) {
  const [rows, setRows] = useState(null);
  const [reason, setReason] = useState('');
  const [problem, setProblem] = useState(null);
  useEffect(() => {
    api('GET', `/reconciliations/${doc.id}/rows${query({ state: 'failed', limit: 500 })}`).then((p) => setRows(p.rows), setProblem);
  }, [doc]);
  // The failed rows by id: a decision's filter takes review states only.
  const all = { rowIds: (rows ?? []).map((row) => row.id) };
  return html`<${ProblemView} problem=${problem} />
    <p>These rows could not be posted; the others are. Correct what is in the way and retry, or skip them with a reason.
      ${rows?.length === 500 ? ' The first 500 are shown and decided on; the rest come next.' : ''}</p>
    ${rows ? html`<table aria-label="Failed rows"><thead><tr><th scope="col">Location</th><th scope="col">Item</th><th scope="col" class="num">Variance</th><th scope="col">Reason</th></tr></thead>
      <tbody>${rows.map((row) => html`<tr key=${row.id}><td>${row.location}</td><td>${row.item}</td><td class="num">${signed(row.varianceQuantity)}</td><td>${row.failureReason}</td></tr>`)}</tbody></table>` : null}
    ${decides ? html`<div class="toolbar">
      <button class="primary" disabled=${d.busy || !rows?.length} onClick=${() => d.decide('failed-rows/retry', all, (res) => `Retrying ${res.rows} row(s).`)}>Retry failed rows</button>
      <label for="skip-reason">Reason to skip</label>
      <input id="skip-reason" value=${reason} onInput=${(e) => setReason(e.currentTarget.value)} />
      <button class="danger" disabled=${d.busy || !rows?.length || !reason.trim()} onClick=${() => d.decide('failed-rows/skip', { ...all, reason }, (res) => `Skipped ${res.rows} row(s).`)}>Skip failed rows</button>
    </div>` : null}`;
}

function AdjustmentOrder({ doc }) {
  const [order, setOrder] = useState(null);
  const [problem, setProblem] = useState(null);
  const [saved, setSaved] = useState(null);
  useEffect(() => {
    api('GET', `/reconciliations/${doc.id}/adjustment-order`).then(setOrder, setProblem);
  }, [doc.id]);
  const csv = async () => {
    setProblem(null);
    try {
      setSaved(`Downloaded ${await download(`/reconciliations/${doc.id}/adjustment-order?format=csv`, 'adjustment-order.csv')}.`);
    } catch (err) {
      setProblem(err);
    }
  };
  return html`<${ProblemView} problem=${problem} />
    ${order ? html`<h4>Adjustment order ${order.orderNumber}</h4>
      <p>${order.lines.length} line(s) for the ERP, warehouse ${order.warehouse}. <button class="primary" onClick=${csv}>Download CSV</button></p>
      <${Verdict} text=${saved} />
      <div class="grid-wrap"><table aria-label="Adjustment order lines">
        <thead><tr><th scope="col" class="num">Line</th><th scope="col">Location</th><th scope="col">Item</th><th scope="col" class="num">Book</th>
          <th scope="col" class="num">Actual</th><th scope="col" class="num">Variance</th><th scope="col">Unit</th><th scope="col" class="num">Amount</th></tr></thead>
        <tbody>${order.lines.map((l) => html`<tr key=${l.line}><td class="num">${l.line}</td><td>${l.location}</td><td>${l.item}</td>
          <td class="num">${fmtQty(l.stockPointInventorySu)}</td><td class="num">${fmtQty(l.actualInventorySu)}</td><td class="num">${signed(l.varianceSu)}</td>
          <td>${l.storageUnit}</td><td class="num">${signed(l.adjustmentAmount, fmtMoney)}</td></tr>`)}</tbody>
      </table></div>` : null}`;
}
