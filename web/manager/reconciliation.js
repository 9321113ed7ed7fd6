import { useCallback, useEffect, useState } from 'preact/hooks';
import { api } from '../shared/api.js';
import { fmtMoney, html, ProblemView, Verdict, words } from '../shared/ui.js';
import { scopeText } from './list.js';
import { Orders } from './orders.js';
import { Pictures } from './pictures.js';
import { useDecision } from './decision.js';
import { StepProgress } from './progress.js';
import { Release } from './release.js';
import { Review } from './review.js';

const TABS = [['overview', 'Overview'], ['review', 'Review'], ['release', 'Release'], ['pictures', 'Pictures']];
/** Statuses that change by themselves: the page follows them. */
const MOVING = { snapshotting: 1000, populating: 1000, releasing: 1000, counting: 3000 };

/**
 * One reconciliation: its live status and figures, and a tab per job. A
 * decision anywhere asks for a refresh, so every figure shown is the API's.
 */
export function Reconciliation({ id, tab, me }) {
  const [doc, setDoc] = useState(null);
  const [problem, setProblem] = useState(null);
  const [tick, setTick] = useState(0);
  const refresh = useCallback(() => setTick((n) => n + 1), []);

  useEffect(() => {
    let stop = false;
    api('GET', `/reconciliations/${id}`).then(
      (d) => { if (!stop) { setDoc(d); setProblem(null); } },
      (err) => { if (!stop) setProblem(err); },
    );
    return () => { stop = true; };
  }, [id, tick]);

  const wait = doc ? MOVING[doc.status] : undefined;
  useEffect(() => {
    if (!wait) return undefined;
    const t = setTimeout(refresh, wait);
    return () => clearTimeout(t);
  }, [wait, doc]);

  if (!doc) return html`<${ProblemView} problem=${problem} />${problem ? null : html`<p>Loading…</p>`}`;
  const p = doc.progress;
  const decides = me.role === 'manager' || me.role === 'senior_manager';
  return html`<h2>Reconciliation ${doc.number} <span class="tag">${words(doc.status)}</span></h2>
    <p>${doc.warehouse}: ${scopeText(doc.scope)}. Created by ${doc.createdBy}. ${authority(me, doc)}</p>
    <${StepProgress} doc=${doc} />
    <dl class="summary" aria-label="Figures">
      ${figure('Round', p ? (p.round < 0 ? 'not counted yet' : p.round === 0 ? 'initial count' : `recount ${p.round}`) : '')}
      ${figure('Rows', p?.rows.total)}
      ${figure('To approve', p?.rows.toApprove)}
      ${figure('Marked for recount', p?.rows.markedForRecount)}
      ${figure('Counted, awaiting count', p ? `${p.rows.counted} / ${p.rows.awaitingCount + p.rows.recounting}` : '')}
      ${figure('Failed', p?.rows.failed)}
      ${figure('Processed', p?.rows.processed)}
      ${figure('Orders open / complete', p ? `${p.ordersOpen} / ${p.ordersComplete}` : '')}
    </dl>
    ${p?.failure ? html`<div class="problem" role="alert"><strong>Step ${words(p.failure.step)} failed</strong><p>${p.failure.reason}</p></div>` : null}
    ${doc.statusFrom === 'database' ? html`<p class="hint">The workflow did not answer just now: the status shown is the stored one.</p>` : null}
    <nav class="tabs" aria-label="Reconciliation">
      ${TABS.map(([t, text]) => html`<a href=${`#/r/${id}/${t}`} aria-current=${tab === t ? 'page' : undefined}>${text}</a>`)}
    </nav>
    <${ProblemView} problem=${problem} />
    ${tab === 'overview' ? html`<${Overview} doc=${doc} decides=${decides} refresh=${refresh} />` : null}
    ${tab === 'review' ? html`<${Review} doc=${doc} me=${me} decides=${decides} refresh=${refresh} />` : null}
    ${tab === 'release' ? html`<${Release} doc=${doc} decides=${decides} refresh=${refresh} />` : null}
    ${tab === 'pictures' ? html`<${Pictures} doc=${doc} />` : null}`;
}

function figure(label, value) {
  return html`<div><dt>${label}</dt><dd>${value ?? ''}</dd></div>`;
}

/** What this user may approve here, before any click. */
function authority(me, doc) {
  if (me.role === 'senior_manager') return 'You approve any variance (senior manager).';
  if (me.role === 'manager') return `You approve variances up to ${fmtMoney(doc.managerApprovalLimit)} in value; above that a senior manager must. Nobody approves rows they counted.`;
  return 'You read; decisions are for managers.';
}

/** A decision: sent once with its own key; the API's verdict (or refusal) in words. */
function Overview({ doc, decides, refresh }) {
  const d = useDecision(doc.id, refresh);
  const [reason, setReason] = useState('');
  const final = ['released', 'cancelled'].includes(doc.status);
  return html`<section aria-labelledby="ov-title">
    <h3 id="ov-title">Next steps</h3>
    ${decides && doc.status === 'ready' ? html`<p><button class="primary" disabled=${d.busy}
        onClick=${() => d.decide('initial-count', undefined, (r) => `Initial count started: ${r.orders} count order(s) with ${r.tasks} task(s). Assign them below.`)}>
        Start the initial count</button></p>` : null}
    ${doc.status === 'snapshotting' ? html`<p>Taking the snapshot of expected stock…</p>` : null}
    ${doc.status === 'review' ? html`<p>Counts are in: <a href=${`#/r/${doc.id}/review`}>review the rows</a>.</p>` : null}
    ${doc.status === 'step_failed' && decides ? html`<p><button class="primary" disabled=${d.busy}
        onClick=${() => d.decide('step-retry', undefined, (r) => `The step runs again; status ${words(r.status)}.`)}>Retry the failed step</button></p>` : null}
    <${Verdict} text=${d.verdict} />
    <${ProblemView} problem=${d.problem} />
    <${Orders} doc=${doc} decides=${decides} refresh=${refresh} />
    ${decides && !final ? html`<details class="panel"><summary>Cancel this reconciliation</summary>
      <form onSubmit=${(e) => { e.preventDefault(); d.decide('cancellation', { reason }, (r) => `Cancelled while ${words(r.cancelledWhile)}.`); }}>
        <div class="fields"><div class="field"><label for="cancel-reason">Reason</label>
          <input id="cancel-reason" required value=${reason} onInput=${(e) => setReason(e.currentTarget.value)} /></div>
          <button type="submit" class="danger" disabled=${d.busy}>Cancel reconciliation</button></div>
      </form></details>` : null}
  </section>`;
}
