import { useEffect, useState } from 'preact/hooks';
import { api, query } from '../shared/api.js';
import { fmtMoney, fmtQty, html, ProblemView, signed, Verdict, words } from '../shared/ui.js';
import { useDecision } from './decision.js';
import { RowHistory } from './row-history.js';

const PAGE = 50;
const EMPTY = { approval: '', state: '', zone: '', item: '', location: '', direction: '', minAbsValue: '', minAbsPercent: '', minAbsVariance: '' };

/** The filter as the decisions take it (the same predicate the listing uses, so "the whole filter" is exactly what is shown). */
function filterBody(f) {
  const list = (s) => s.split(/[\s,;]+/).filter(Boolean);
  const body = {};
  if (f.item) body.itemCodes = list(f.item);
  if (f.zone) body.zoneCodes = list(f.zone);
  if (f.location) body.locationCodes = list(f.location);
  for (const k of ['approval', 'state', 'direction']) if (f[k]) body[k] = f[k];
  for (const k of ['minAbsValue', 'minAbsPercent', 'minAbsVariance']) if (f[k] !== '') body[k] = Number(f[k]);
  return body;
}

function filterQuery(f) {
  const { item, zone, location, ...rest } = f;
  return { item, zone, location, ...rest };
}

/** Variance as a percentage of the expected quantity (none expected: any variance is "new stock"). */
function percent(row) {
  if (row.varianceQuantity === null) return '';
  if (!row.expectedQuantity) return row.varianceQuantity === 0 ? '0 %' : 'new';
  return `${signed(Math.round((row.varianceQuantity / row.expectedQuantity) * 1000) / 10)} %`;
}

/** Why this user may not approve a row, if they may not: shown on the row before any click. */
function approvalBar(row, me, limit) {
  if (row.state !== 'counted' || row.approval !== 'to_approve') return null;
  if ((row.countedBy ?? '').split(',').includes(me.name)) return 'you counted it';
  if (me.role === 'manager' && Math.abs(row.varianceValue ?? 0) > limit) return 'above your limit';
  return null;
}

const COLUMNS = [
  ['zone', 'Zone'], ['location', 'Location'], ['item', 'Item'], [null, 'Lot / serial / HU'],
  [null, 'Expected', 'num'], [null, 'Counted', 'num'], ['variance', 'Variance', 'num'], ['variancePercent', '%', 'num'],
  ['absValue', 'Value', 'num'], [null, 'Approval'], [null, 'State'], [null, 'Counted by'], [null, 'Note'],
];

/**
 * The review grid: sorted, filtered and paged by the API (so 100,000 rows
 * cost one page), largest absolute value first. Decisions apply to the rows
 * ticked or to every row of the filter.
 */
export function Review({ doc, me, decides, refresh }) {
  const [draft, setDraft] = useState(EMPTY);
  const [filter, setFilter] = useState(EMPTY);
  const [sort, setSort] = useState({ by: 'absValue', order: 'desc' });
  const [offset, setOffset] = useState(0);
  const [page, setPage] = useState(null);
  const [aboveLimit, setAboveLimit] = useState(null);
  const [problem, setProblem] = useState(null);
  const [selected, setSelected] = useState(new Set());
  const [open, setOpen] = useState(null);
  const [reason, setReason] = useState('');
  const [loads, setLoads] = useState(0);
  const d = useDecision(doc.id, () => { refresh(); setLoads((n) => n + 1); });
  const limit = Number(doc.managerApprovalLimit);

  useEffect(() => {
    let stop = false;
    const q = { ...filterQuery(filter), sort: sort.by, order: sort.order, offset, limit: PAGE, total: 'true' };
    api('GET', `/reconciliations/${doc.id}/rows${query(q)}`).then(
      (p) => { if (!stop) { setPage(p); setProblem(null); } },
      (err) => { if (!stop) setProblem(err); },
    );
    // Before a manager approves the whole filter: how many of its rows only a senior manager may approve.
    if (me.role === 'manager') {
      const over = { ...filterQuery(filter), minAbsValue: Math.max(Number(filter.minAbsValue || 0), limit + 0.0001), approval: 'to_approve', limit: 1, total: 'true' };
      api('GET', `/reconciliations/${doc.id}/rows${query(over)}`).then((p) => { if (!stop) setAboveLimit(p.total); }, () => {});
    }
    return () => { stop = true; };
  }, [doc.id, filter, sort, offset, loads]);

  const apply = (e) => { e.preventDefault(); setFilter(draft); setOffset(0); setSelected(new Set()); };
  const clear = () => { setDraft(EMPTY); setFilter(EMPTY); setOffset(0); setSelected(new Set()); };
  const sortBy = (by) => {
    setSort((s) => (s.by === by ? { by, order: s.order === 'desc' ? 'asc' : 'desc' } : { by, order: ['zone', 'location', 'item'].includes(by) ? 'asc' : 'desc' }));
    setOffset(0);
  };
  const toggle = (id) => {
    const next = new Set(selected);
    if (next.has(id)) next.delete(id); else next.add(id);
    setSelected(next);
  };

  const rows = page?.rows ?? [];
  const chosen = rows.filter((r) => selected.has(r.id));
  const barred = chosen.map((r) => approvalBar(r, me, limit)).filter(Boolean);
  const notToApprove = chosen.filter((r) => r.state !== 'counted' || r.approval !== 'to_approve').length;
  const total = page?.total ?? 0;
  const hasFilter = Object.values(filter).some((v) => v !== '');
  const ids = { rowIds: chosen.map((r) => r.id) };
  const whole = { filter: filterBody(filter) };
  const n = (x) => `${x} row${x === 1 ? '' : 's'}`;
  const marked = doc.progress?.rows.markedForRecount ?? 0;

  return html`<section aria-labelledby="review-title">
    <h3 id="review-title">Review rows</h3>
    <form class="panel" onSubmit=${apply} aria-label="Filter rows">
      <div class="fields">
        ${select('f-approval', 'Approval', draft.approval, (v) => setDraft({ ...draft, approval: v }), [['', 'any'], ['to_approve', 'to approve'], ['approved', 'approved'], ['not_required', 'not required']])}
        ${select('f-state', 'State', draft.state, (v) => setDraft({ ...draft, state: v }), [['', 'any but deleted'], ['awaiting_count', 'awaiting count'], ['counted', 'counted'], ['marked_for_recount', 'marked for recount'], ['recounting', 'recounting'], ['deleted', 'deleted']])}
        ${select('f-direction', 'Direction', draft.direction, (v) => setDraft({ ...draft, direction: v }), [['', 'both'], ['loss', 'loss (less counted)'], ['gain', 'gain (more counted)']])}
        ${text('f-zone', 'Zones', draft.zone, (v) => setDraft({ ...draft, zone: v }))}
        ${text('f-location', 'Locations', draft.location, (v) => setDraft({ ...draft, location: v }))}
        ${text('f-item', 'Items', draft.item, (v) => setDraft({ ...draft, item: v }))}
        ${text('f-value', 'Min. |value|', draft.minAbsValue, (v) => setDraft({ ...draft, minAbsValue: v }), 'number')}
        ${text('f-percent', 'Min. |%|', draft.minAbsPercent, (v) => setDraft({ ...draft, minAbsPercent: v }), 'number')}
        ${text('f-variance', 'Min. |variance|', draft.minAbsVariance, (v) => setDraft({ ...draft, minAbsVariance: v }), 'number')}
        <button type="submit" class="primary">Apply filter</button>
        <button type="button" onClick=${clear}>Clear</button>
      </div>
    </form>
    <${ProblemView} problem=${problem} />
    <${Verdict} text=${d.verdict} />
    <${ProblemView} problem=${d.problem} />
    ${decides ? html`<div class="panel" aria-label="Decisions">
      <p class="hint" id="approve-hint">${me.role === 'senior_manager' ? 'You approve any value.' : `Your approval limit: ${fmtMoney(limit)}.`}
        ${chosen.length > 0 ? ` ${n(chosen.length)} ticked.` : ''}
        ${barred.length > 0 ? ` ${n(barred.length)} ticked you may not approve (${[...new Set(barred)].join(', ')}).` : ''}
        ${notToApprove > 0 ? ` ${n(notToApprove)} ticked are not To Approve.` : ''}
        ${aboveLimit ? ` ${n(aboveLimit)} To Approve in this filter are above your limit: a senior manager must approve them.` : ''}</p>
      <div class="toolbar">
        <button class="primary" aria-describedby="approve-hint" disabled=${d.busy || chosen.length === 0 || barred.length > 0 || notToApprove > 0}
          onClick=${() => d.decide('approvals', ids, (r) => `Approved ${n(r.rows)}.`).then(() => setSelected(new Set()))}>Approve ticked</button>
        <button class="primary" aria-describedby="approve-hint" disabled=${d.busy || !hasFilter || total === 0 || aboveLimit > 0}
          onClick=${() => d.decide('approvals', whole, (r) => `Approved ${n(r.rows)} of the filter.`)}>Approve the whole filter (${n(total)})</button>
        <button disabled=${d.busy || chosen.length === 0}
          onClick=${() => d.decide('recount-marks', ids, (r) => `Marked ${n(r.rows)} for recount.`).then(() => setSelected(new Set()))}>Recount ticked</button>
        <button disabled=${d.busy || !hasFilter || total === 0}
          onClick=${() => d.decide('recount-marks', whole, (r) => `Marked ${n(r.rows)} of the filter for recount.`)}>Recount the whole filter</button>
        <button disabled=${d.busy || marked === 0}
          onClick=${() => d.decide('recount-orders', undefined, (r) => `Recount order ${r.countOrderId} created with ${r.tasks} task(s), round ${r.round}: assign it on the Overview tab.`)}>
          Create the recount order (${n(marked)} marked)</button>
      </div>
      <form class="toolbar" onSubmit=${(e) => e.preventDefault()}>
        <label for="delete-reason">Reason to delete</label>
        <input id="delete-reason" value=${reason} onInput=${(e) => setReason(e.currentTarget.value)} />
        <button class="danger" type="button" disabled=${d.busy || chosen.length === 0 || !reason.trim()}
          onClick=${() => d.decide('row-deletions', { ...ids, reason }, (r) => `Deleted ${n(r.rows)}.`).then(() => setSelected(new Set()))}>Delete ticked</button>
        <button class="danger" type="button" disabled=${d.busy || !hasFilter || total === 0 || !reason.trim()}
          onClick=${() => d.decide('row-deletions', { ...whole, reason }, (r) => `Deleted ${n(r.rows)} of the filter.`)}>Delete the whole filter</button>
      </form>
    </div>` : null}
    <div class="toolbar">
      <span role="status">${page ? (total === 0 ? 'No rows match.' : `Rows ${offset + 1}–${offset + rows.length} of ${total.toLocaleString()}`) : 'Loading…'}</span>
      <button disabled=${offset === 0} onClick=${() => { setOffset(Math.max(0, offset - PAGE)); setSelected(new Set()); }}>Previous page</button>
      <button disabled=${!page?.nextOffset} onClick=${() => { setOffset(page.nextOffset); setSelected(new Set()); }}>Next page</button>
    </div>
    <div class="grid-wrap">
      <table aria-labelledby="review-title" aria-rowcount=${total + 1}>
        <thead><tr>
          <th scope="col"><span class="sr-only">Tick</span></th>
          ${COLUMNS.map(([by, label, cls]) => html`<th scope="col" class=${cls}
              aria-sort=${by && sort.by === by ? (sort.order === 'desc' ? 'descending' : 'ascending') : undefined}>
            ${by ? html`<button class="sort" onClick=${() => sortBy(by)}>${label}${sort.by === by ? (sort.order === 'desc' ? ' ▼' : ' ▲') : ''}</button>` : label}
          </th>`)}
        </tr></thead>
        <tbody>${rows.map((r, i) => {
          const bar = approvalBar(r, me, limit);
          return html`<tr key=${r.id} class=${selected.has(r.id) ? 'selected' : ''} aria-rowindex=${offset + i + 2}>
            <td><input type="checkbox" checked=${selected.has(r.id)} onChange=${() => toggle(r.id)} aria-label=${`Tick row ${r.id}: ${r.item} at ${r.location}`} /></td>
            <td>${r.zone}</td><td>${r.location}</td>
            <td><button class="link" onClick=${() => setOpen(r.id)} aria-label=${`History of ${r.item} at ${r.location}`}>${r.item}</button></td>
            <td>${[r.lot, r.serial, r.handlingUnit].filter(Boolean).join(' / ')}</td>
            <td class="num">${fmtQty(r.expectedQuantity)}</td>
            <td class="num">${fmtQty(r.countedQuantity)}</td>
            <td class="num">${signed(r.varianceQuantity)}</td>
            <td class="num">${percent(r)}</td>
            <td class="num">${signed(r.varianceValue, fmtMoney)}</td>
            <td>${words(r.approval)}</td>
            <td>${words(r.state)}${r.failureReason ? `: ${r.failureReason}` : ''}</td>
            <td>${r.countedBy ?? ''}</td>
            <td>${bar ? html`<span class="tag bad">${bar}</span>` : null}${r.movedAfterSnapshot ? html` <span class="tag">moved after snapshot</span>` : null}</td>
          </tr>`;
        })}</tbody>
      </table>
    </div>
    ${open ? html`<${RowHistory} reconciliationId=${doc.id} rowId=${open} onClose=${() => setOpen(null)} />` : null}
  </section>`;
}

function select(id, label, value, set, options) {
  return html`<div class="field"><label for=${id}>${label}</label>
    <select id=${id} value=${value} onChange=${(e) => set(e.currentTarget.value)}>
      ${options.map(([v, t]) => html`<option value=${v}>${t}</option>`)}
    </select></div>`;
}

function text(id, label, value, set, type = 'text') {
  return html`<div class="field"><label for=${id}>${label}</label>
    <input id=${id} type=${type} min=${type === 'number' ? 0 : undefined} step=${type === 'number' ? 'any' : undefined} size="10" value=${value} onInput=${(e) => set(e.currentTarget.value)} /></div>`;
}
