import { useEffect, useState } from 'preact/hooks';
import { api } from '../shared/api.js';
import { fmtMoney, fmtQty, html, ProblemView, signed, words } from '../shared/ui.js';

/**
 * The exception queue of system reconciliations: what the ERP, the WMS and
 * the book still disagree on, highest value first, and the value at risk.
 */
export function Exceptions() {
  const [list, setList] = useState(null);
  const [problem, setProblem] = useState(null);
  useEffect(() => {
    api('GET', '/system-exceptions?status=open,investigating&limit=100').then((r) => setList(r.exceptions), setProblem);
  }, []);
  const atRisk = (list ?? []).reduce((sum, e) => sum + Math.abs(e.value), 0);
  return html`<h2 id="exceptions-title">Exception queue</h2>
    <${ProblemView} problem=${problem} />
    ${list === null && !problem ? html`<p>Loading…</p>` : null}
    ${list ? html`<p>${list.length === 0 ? 'No open exceptions.' : `${list.length}${list.length === 100 ? ' or more' : ''} open exception(s); value at risk ${fmtMoney(atRisk)}${list.length === 100 ? ' in the first 100' : ''}.`}</p>` : null}
    ${list && list.length > 0 ? html`<div class="grid-wrap"><table aria-labelledby="exceptions-title">
      <thead><tr><th scope="col">Item</th><th scope="col">Warehouse</th><th scope="col">Location</th><th scope="col">Category</th>
        <th scope="col">Sources</th><th scope="col" class="num">Difference</th><th scope="col" class="num">Value at risk</th>
        <th scope="col" class="num">Seen</th><th scope="col">Status</th><th scope="col">Owner</th><th scope="col">Count</th></tr></thead>
      <tbody>${list.map((e) => html`<tr key=${e.id}>
        <td>${e.item}</td><td>${e.warehouse}</td><td>${e.location ?? ''}</td><td>${words(e.category)}</td>
        <td>${e.sourceA} / ${e.sourceB}</td><td class="num">${signed(e.difference, fmtQty)}</td><td class="num">${fmtMoney(Math.abs(e.value))}</td>
        <td class="num">${e.occurrences}</td><td>${words(e.status)}${e.rootCause ? `: ${words(e.rootCause)}` : ''}</td><td>${e.owner ?? ''}</td>
        <td>${e.countReconciliation ? html`<a href=${`#/r/${e.countReconciliation.id}`}>Reconciliation ${e.countReconciliation.number}</a>` : ''}</td>
      </tr>`)}</tbody></table></div>` : null}`;
}
