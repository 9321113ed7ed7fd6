import { useEffect, useState } from 'preact/hooks';
import { api } from '../shared/api.js';
import { html, ProblemView, words } from '../shared/ui.js';
import { CreateReconciliation } from './create.js';
import { rowFigures, StepProgress } from './progress.js';

const ACTIVE = ['snapshotting', 'populating', 'releasing'];

/** Newest reconciliations, each with its live figures; refreshed while a step runs. */
export function ReconciliationList({ me }) {
  const [docs, setDocs] = useState(null);
  const [problem, setProblem] = useState(null);
  const [tick, setTick] = useState(0);

  useEffect(() => {
    let stop = false;
    (async () => {
      try {
        const { reconciliations } = await api('GET', '/reconciliations?limit=25');
        // The list holds the stored documents; the live status and figures come from each one's workflow.
        const live = await Promise.all(reconciliations.map((r) => api('GET', `/reconciliations/${r.id}`).catch(() => r)));
        if (!stop) { setDocs(live); setProblem(null); }
      } catch (err) {
        if (!stop) setProblem(err);
      }
    })();
    return () => { stop = true; };
  }, [tick]);

  const busy = docs?.some((d) => ACTIVE.includes(d.status));
  useEffect(() => {
    if (!busy) return undefined;
    const t = setTimeout(() => setTick((n) => n + 1), 1500);
    return () => clearTimeout(t);
  }, [busy, docs]);

  const manager = me.role !== 'auditor';
  return html`<h2 id="list-title">Reconciliations</h2>
    <${ProblemView} problem=${problem} />
    ${docs === null && !problem ? html`<p>Loading…</p>` : null}
    ${docs && docs.length === 0 ? html`<p>No reconciliations yet.</p>` : null}
    ${docs && docs.length > 0 ? html`<div class="grid-wrap"><table aria-labelledby="list-title">
      <thead><tr>
        <th scope="col">No.</th><th scope="col">Warehouse</th><th scope="col">Scope</th><th scope="col">Status</th>
        <th scope="col" class="num">To approve</th><th scope="col" class="num">Marked for recount</th><th scope="col" class="num">Failed</th>
        <th scope="col">Created</th>
      </tr></thead>
      <tbody>${docs.map((d) => {
        const f = rowFigures(d);
        return html`<tr key=${d.id}>
          <td><a href=${`#/r/${d.id}`}>Reconciliation ${d.number}</a></td>
          <td>${d.warehouse}</td>
          <td>${scopeText(d.scope)}</td>
          <td>${words(d.status)}<${StepProgress} doc=${d} /></td>
          <td class="num">${f?.toApprove ?? ''}</td>
          <td class="num">${f?.markedForRecount ?? ''}</td>
          <td class="num">${f?.failed ?? ''}</td>
          <td>${new Date(d.createdAt).toLocaleString()} by ${d.createdBy}</td>
        </tr>`;
      })}</tbody>
    </table></div>` : null}
    ${manager ? html`<${CreateReconciliation} onCreated=${(doc) => { location.hash = `#/r/${doc.id}`; }} />` : null}`;
}

export function scopeText(scope) {
  if (!scope) return '';
  const items = scope.items?.length ? `; items ${scope.items.join(', ')}` : '';
  if (scope.kind === 'zones') return `zones ${scope.zones.join(', ')}${items}`;
  if (scope.kind === 'locations') return `locations ${scope.locations.join(', ')}${items}`;
  return `whole warehouse${items}`;
}
