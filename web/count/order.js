import { useEffect, useRef, useState } from 'preact/hooks';
import { api, newKey } from '../shared/api.js';
import { html, ProblemView, Verdict } from '../shared/ui.js';
import { enqueue } from './queue.js';

/** Where the counter is in an order survives a reload of the page. */
const placeKey = (orderId) => `stocktake.count.${orderId}`;

async function allTasks(orderId) {
  const tasks = [];
  let after = 0;
  for (;;) {
    const page = await api('GET', `/count-orders/${orderId}/tasks?after=${after}&limit=1000`);
    tasks.push(...page.tasks);
    if (page.tasks.length < 1000) return { ...page, tasks };
    after = page.tasks[page.tasks.length - 1].taskId;
  }
}

const same = (a, b) => a.trim().toUpperCase() === b.trim().toUpperCase();

/**
 * One order, task by task: confirm the location (scan or type), then count
 * what is there. A location task (initial count) takes any item found; a
 * recount task names the item, lot, serial and handling unit, and anything
 * else found there is reported too. Blind: no expected quantity is shown.
 */
export function CountOrder({ order, queue, onClose }) {
  const [data, setData] = useState(null);
  const [problem, setProblem] = useState(null);
  const [index, setIndex] = useState(() => Number(localStorage.getItem(placeKey(order.id)) ?? 0));
  const [atLocation, setAtLocation] = useState(false);
  const [done, setDone] = useState(null);

  useEffect(() => { allTasks(order.id).then(setData, setProblem); }, [order.id]);
  useEffect(() => { localStorage.setItem(placeKey(order.id), String(index)); }, [index]);

  if (!data) return html`<${ProblemView} problem=${problem} />${problem ? null : html`<p>Loading tasks…</p>`}`;
  const task = data.tasks[index];
  const next = () => { setIndex(index + 1); setAtLocation(false); };
  const waitingHere = queue.waiting.filter((b) => b.orderId === order.id).length;

  const complete = async () => {
    setProblem(null);
    try {
      await api('POST', `/count-orders/${order.id}/completion`, {});
      localStorage.removeItem(placeKey(order.id));
      setDone(`Order ${order.id} is complete. Thank you.`);
    } catch (err) {
      setProblem(err);
    }
  };

  if (done) {
    return html`<${Verdict} text=${done} /><button class="big primary" onClick=${onClose}>Back to your orders</button>`;
  }
  return html`<h2>Order ${order.id}${task ? `: task ${index + 1} of ${data.tasks.length}` : ''}</h2>
    <${ProblemView} problem=${problem} />
    ${task && !atLocation ? html`<${ConfirmLocation} key=${`loc-${index}`} task=${task} onConfirmed=${() => setAtLocation(true)} />` : null}
    ${task && atLocation ? html`<${CountHere} key=${`count-${index}`} task=${task} orderId=${order.id} onDone=${next} />` : null}
    ${!task ? html`<div class="task">
      <h2>Every task is counted</h2>
      ${waitingHere > 0 ? html`<p>${waitingHere} batch(es) of this order are waiting to send: the order can be completed once they are sent.</p>` : null}
      <div class="stack">
        <button class="big primary" disabled=${waitingHere > 0} onClick=${complete}>Complete the order</button>
        <button class="big" onClick=${() => setIndex(Math.max(0, data.tasks.length - 1))}>Back to the last task</button>
      </div>
    </div>` : null}
    <p><button class="big" onClick=${onClose}>Back to your orders</button></p>`;
}

function ConfirmLocation({ task, onConfirmed }) {
  const [value, setValue] = useState('');
  const [problem, setProblem] = useState(null);
  const input = useRef(null);
  useEffect(() => input.current?.focus(), []);
  const submit = (e) => {
    e.preventDefault();
    if (same(value, task.location)) return onConfirmed();
    setProblem({ title: 'Wrong location', detail: `that is ${value.trim() || 'nothing'}; this task is at ${task.location}. Go there and scan it.` });
    setValue('');
  };
  return html`<form class="task stack" onSubmit=${submit}>
    <p>Go to location</p>
    <p class="code">${task.location}</p>
    <p>Zone ${task.zone}</p>
    <label for="scan-location">Scan or type the location</label>
    <input id="scan-location" ref=${input} autocomplete="off" autocapitalize="characters" enterkeyhint="go" value=${value} onInput=${(e) => setValue(e.currentTarget.value)} />
    <button type="submit" class="big primary">I am at this location</button>
    <${ProblemView} problem=${problem} />
  </form>`;
}

/** Counts at the confirmed location; each saved count is queued and sent at once when the network allows. */
function CountHere({ task, orderId, onDone }) {
  const expectedItem = task.item ?? null;
  const [saved, setSaved] = useState([]);
  const [other, setOther] = useState(!expectedItem);
  const [verdict, setVerdict] = useState(null);

  const save = async (entry) => {
    const record = { location: task.location, ...entry };
    setSaved((s) => [...s, record]);
    setVerdict(`Saved ${record.quantity} × ${record.item}${record.lot ? ` lot ${record.lot}` : ''}${record.serial ? ` serial ${record.serial}` : ''}.`);
    await enqueue(orderId, newKey(), [record]);
  };

  return html`<div class="task stack">
    <p>Counting at <span class="code">${task.location}</span></p>
    ${expectedItem ? html`<${EntryForm} key="expected" fixed=${task} onSave=${save} legend="Count this" />` : null}
    ${other ? html`<${EntryForm} key=${`other-${saved.length}`} onSave=${save} legend=${expectedItem ? 'Other stock found here' : 'What is here'} />`
      : html`<button class="big" onClick=${() => setOther(true)}>Report other stock found here</button>`}
    <${Verdict} text=${verdict} />
    ${saved.length > 0 ? html`<h3>Counted here</h3><ul>${saved.map((s) => html`<li>${s.quantity} × ${s.item}${s.lot ? ` lot ${s.lot}` : ''}${s.serial ? ` serial ${s.serial}` : ''}${s.handlingUnit ? ` HU ${s.handlingUnit}` : ''}</li>`)}</ul>` : null}
    <button class="big primary" onClick=${onDone}>${saved.length === 0 ? 'Nothing (more) here: next task' : 'Location done: next task'}</button>
  </div>`;
}

const FIELDS = [['item', 'Item'], ['lot', 'Lot'], ['serial', 'Serial'], ['handlingUnit', 'Handling unit']];

/**
 * Item, lot, serial, handling unit, quantity: a scanner types into the
 * focused field and ends with Enter, which moves to the next field; Enter in
 * the quantity saves. Fields the task already names are shown, not asked.
 */
function EntryForm({ fixed, onSave, legend }) {
  const [values, setValues] = useState({ item: '', lot: '', serial: '', handlingUnit: '', quantity: '' });
  const [problem, setProblem] = useState(null);
  const form = useRef(null);
  const prefix = fixed ? 'fixed' : 'found';
  useEffect(() => { form.current?.querySelector('input')?.focus(); }, []);

  const asked = fixed ? [] : FIELDS;
  const onKeyDown = (e) => {
    if (e.key !== 'Enter' || e.target.name === 'quantity') return;
    e.preventDefault();
    const inputs = [...form.current.querySelectorAll('input')];
    inputs[inputs.indexOf(e.target) + 1]?.focus();
  };
  const submit = async (e) => {
    e.preventDefault();
    setProblem(null);
    const quantity = Number(values.quantity.replace(',', '.'));
    const item = fixed ? fixed.item : values.item.trim();
    if (!item) return setProblem({ title: 'Item missing', detail: 'scan or type the item' });
    if (values.quantity.trim() === '' || !Number.isFinite(quantity) || quantity < 0) return setProblem({ title: 'Quantity missing', detail: 'type the quantity counted (0 or more)' });
    const pick = (k) => (fixed ? fixed[k] ?? '' : values[k].trim());
    await onSave({ item, lot: pick('lot'), serial: pick('serial'), handlingUnit: pick('handlingUnit'), quantity });
    setValues({ item: '', lot: '', serial: '', handlingUnit: '', quantity: '' });
    form.current?.querySelector('input')?.focus();
  };

  return html`<form ref=${form} class="stack" onSubmit=${submit} onKeyDown=${onKeyDown}>
    <fieldset class="stack">
      <legend>${legend}</legend>
      ${fixed ? html`<p><span class="code">${fixed.item}</span>${['lot', 'serial', 'handlingUnit'].filter((k) => fixed[k]).map((k) => html`<br />${k === 'handlingUnit' ? 'HU' : k} ${fixed[k]}`)}</p>` : null}
      ${asked.map(([k, label]) => html`<label for=${`${prefix}-${k}`}>${label}${k === 'item' ? '' : ' (if any)'}</label>
        <input id=${`${prefix}-${k}`} name=${k} autocomplete="off" autocapitalize="characters" enterkeyhint="next" value=${values[k]}
          onInput=${(e) => setValues({ ...values, [k]: e.currentTarget.value })} />`)}
      <label for=${`${prefix}-quantity`}>Quantity counted</label>
      <input id=${`${prefix}-quantity`} name="quantity" inputmode="decimal" autocomplete="off" enterkeyhint="done" value=${values.quantity}
        onInput=${(e) => setValues({ ...values, quantity: e.currentTarget.value })} />
      <button type="submit" class="big primary">Save count</button>
      <${ProblemView} problem=${problem} />
    </fieldset>
  </form>`;
}
