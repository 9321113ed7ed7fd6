import { useEffect, useRef, useState } from 'preact/hooks';
import { api } from '../shared/api.js';
import { fmtMoney, fmtQty, html, ProblemView, signed, words } from '../shared/ui.js';

/** One row's history: every round's count, its blockings and postings. Focus moves here and back. */
export function RowHistory({ reconciliationId, rowId, onClose }) {
  const [row, setRow] = useState(null);
  const [problem, setProblem] = useState(null);
  const heading = useRef(null);

  useEffect(() => {
    api('GET', `/reconciliations/${reconciliationId}/rows/${rowId}`).then(setRow, setProblem);
  }, [rowId]);
  useEffect(() => { heading.current?.focus(); }, [row]);

  return html`<section class="panel" aria-labelledby="history-title" onKeyDown=${(e) => { if (e.key === 'Escape') onClose(); }}>
    <h3 id="history-title" tabindex="-1" ref=${heading}>History of row ${rowId}${row ? `: ${row.item} at ${row.location}` : ''}</h3>
    <${ProblemView} problem=${problem} />
    ${row ? html`
      <p>Expected ${fmtQty(row.expectedQuantity)} (snapshot ${fmtQty(row.snapshotQuantity)}${row.movedAfterSnapshot ? ', moved after the snapshot' : ''}),
        counted ${fmtQty(row.countedQuantity)}, variance ${signed(row.varianceQuantity)} worth ${signed(row.varianceValue, fmtMoney)}.
        State ${words(row.state)}, ${words(row.approval)}${row.approvedBy ? ` by ${row.approvedBy}` : ''}${row.deletedReason ? `; deleted: ${row.deletedReason}` : ''}${row.failureReason ? `; failed: ${row.failureReason}` : ''}.</p>
      <table aria-label="Counts by round">
        <thead><tr><th scope="col">Round</th><th scope="col" class="num">Counted</th><th scope="col" class="num">Expected</th><th scope="col">By</th><th scope="col">At</th></tr></thead>
        <tbody>${row.counts.map((c) => html`<tr><td>${c.round === 0 ? 'initial' : `recount ${c.round}`}</td><td class="num">${fmtQty(c.countedQuantity)}</td>
          <td class="num">${fmtQty(c.expectedQuantity)}</td><td>${c.countedBy}</td><td>${new Date(c.countedAt).toLocaleString()}</td></tr>`)}</tbody>
      </table>
      ${row.blockings.length > 0 ? html`<p>Blocked: ${row.blockings.map((b) => `${b.reason} ${fmtQty(b.snapshotQuantity)} → ${fmtQty(b.countedQuantity)}`).join('; ')}</p>` : null}
      ${row.postings.length > 0 ? html`<p>Postings: ${row.postings.map((p) => `${p.stepIndex + 1}. ${p.kind === 'transaction' ? `${p.direction} ${fmtQty(p.quantity)}` : `blocking ${p.reason} ${fmtQty(p.blockedFrom)} → ${fmtQty(p.blockedTo)}`} (${p.status})`).join('; ')}</p>` : null}
    ` : html`<p>Loading…</p>`}
    <button onClick=${onClose}>Close history</button>
  </section>`;
}
