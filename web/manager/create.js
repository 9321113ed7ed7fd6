import { useEffect, useState } from 'preact/hooks';
import { api, newKey } from '../shared/api.js';
import { html, ProblemView } from '../shared/ui.js';

/** Codes typed as a list: commas, spaces or new lines between them. */
function codes(text) {
  return text.split(/[\s,;]+/).map((c) => c.trim()).filter(Boolean);
}

/**
 * A new reconciliation from a scope: the whole warehouse, some zones or some
 * locations, optionally only some items. An overlap with an active
 * reconciliation is refused by the API, in words shown here.
 */
export function CreateReconciliation({ onCreated }) {
  const [warehouses, setWarehouses] = useState([]);
  const [warehouse, setWarehouse] = useState('');
  const [kind, setKind] = useState('zones');
  const [list, setList] = useState('');
  const [items, setItems] = useState('');
  const [limit, setLimit] = useState('1000');
  const [split, setSplit] = useState('none');
  const [blind, setBlind] = useState(true);
  const [problem, setProblem] = useState(null);
  const [sending, setSending] = useState(false);
  // One key per filled-in form: sending it twice (a double click, a retry) creates one reconciliation.
  const [key, setKey] = useState(newKey());

  useEffect(() => {
    api('GET', '/warehouses').then(
      ({ warehouses: w }) => { setWarehouses(w); if (w[0]) setWarehouse(w[0].code); },
      setProblem,
    );
  }, []);

  const submit = async (e) => {
    e.preventDefault();
    setProblem(null);
    const scope = { kind };
    if (kind === 'zones') scope.zones = codes(list);
    if (kind === 'locations') scope.locations = codes(list);
    if (codes(items).length > 0) scope.items = codes(items);
    const body = { warehouse, scope, managerApprovalLimit: Number(limit), splitPolicy: { kind: split }, blindCount: blind };
    setSending(true);
    try {
      const doc = await api('POST', '/reconciliations', body, { 'idempotency-key': key });
      setKey(newKey());
      onCreated(doc);
    } catch (err) {
      setProblem(err);
    } finally {
      setSending(false);
    }
  };

  return html`<section class="panel" aria-labelledby="create-title">
    <h2 id="create-title">New reconciliation</h2>
    <form onSubmit=${submit} onInput=${() => setKey(newKey())}>
      <div class="fields">
        <div class="field">
          <label for="c-warehouse">Warehouse</label>
          <select id="c-warehouse" value=${warehouse} onChange=${(e) => setWarehouse(e.currentTarget.value)}>
            ${warehouses.map((w) => html`<option value=${w.code}>${w.code} ${w.name}</option>`)}
          </select>
        </div>
        <fieldset>
          <legend>Scope</legend>
          ${[['warehouse', 'Whole warehouse'], ['zones', 'Zones'], ['locations', 'Locations']].map(([k, text]) => html`
            <label><input type="radio" name="c-kind" value=${k} checked=${kind === k} onChange=${() => setKind(k)} /> ${text}</label> `)}
        </fieldset>
        ${kind !== 'warehouse' ? html`<div class="field">
          <label for="c-list">${kind === 'zones' ? 'Zone codes' : 'Location codes'}</label>
          <input id="c-list" required value=${list} onInput=${(e) => setList(e.currentTarget.value)} aria-describedby="c-list-hint" />
          <span class="hint" id="c-list-hint">separated by commas or spaces, e.g. ${kind === 'zones' ? 'Z01, Z02' : 'Z01-A-001-1'}</span>
        </div>` : null}
        <div class="field">
          <label for="c-items">Only these items (optional)</label>
          <input id="c-items" value=${items} onInput=${(e) => setItems(e.currentTarget.value)} />
        </div>
      </div>
      <div class="fields">
        <div class="field">
          <label for="c-limit">Manager approval limit (value)</label>
          <input id="c-limit" type="number" min="0" step="0.01" value=${limit} onInput=${(e) => setLimit(e.currentTarget.value)} />
        </div>
        <div class="field">
          <label for="c-split">Count orders</label>
          <select id="c-split" value=${split} onChange=${(e) => setSplit(e.currentTarget.value)}>
            <option value="none">one order</option>
            <option value="by_zone">one per zone</option>
          </select>
        </div>
        <label><input type="checkbox" checked=${blind} onChange=${(e) => setBlind(e.currentTarget.checked)} /> Blind count (counters see no expected quantity)</label>
        <button type="submit" class="primary" disabled=${sending || !warehouse}>Create reconciliation</button>
      </div>
    </form>
    <${ProblemView} problem=${problem} />
  </section>`;
}
