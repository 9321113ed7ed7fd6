import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { api, token } from '../shared/api.js';
import { Guard, html, ProblemView, SignIn, Who } from '../shared/ui.js';
import { CountOrder } from './order.js';
import { dismissRefused, snapshot, subscribe, forDevice } from './queue.js';

const COUNTERS = ['counter', 'manager', 'senior_manager'];

function accept(me) {
  if (COUNTERS.includes(me.role)) return null;
  return `${me.name} is a ${me.role.replace('_', ' ')}; counting is for devices and the people who count.`;
}

/** What the network has not taken yet, always in sight. */
function QueueStatus({ queue }) {
  const n = queue.waiting.reduce((sum, b) => sum + b.entries.length, 0);
  return html`<p class=${`queue ${n > 0 ? 'waiting' : 'clear'}`} role="status" aria-live="polite">
    ${n > 0 ? `${n} waiting to send` : 'All counts sent'}
  </p>
  ${queue.refused.map((b) => html`<div class="problem" role="alert" key=${b.submissionId}>
    <strong>Not accepted: ${b.entries.map((e) => `${e.quantity} × ${e.item} at ${e.location}`).join(', ')}</strong>
    <p>${b.refusal.title}${b.refusal.detail ? `: ${b.refusal.detail}` : ''}. Count it again if it was wrong.</p>
    <button type="button" onClick=${() => dismissRefused(b.submissionId)}>Dismiss</button>
  </div>`)}`;
}

function Orders({ onOpen }) {
  const [orders, setOrders] = useState(null);
  const [problem, setProblem] = useState(null);
  const load = () => {
    setProblem(null);
    api('GET', '/me/count-orders').then(({ countOrders }) => setOrders(countOrders), setProblem);
  };
  useEffect(load, []);
  return html`<h2>Your count orders</h2>
    <${ProblemView} problem=${problem} />
    ${orders?.length === 0 ? html`<p>No open count orders are assigned to you.</p>` : null}
    <ul class="orders">${(orders ?? []).map((o) => html`<li key=${o.id}>
      <button class="big primary" onClick=${() => onOpen(o)}>Order ${o.id}: ${o.kind === 'recount' ? `recount ${o.round}` : 'count'}, ${o.tasks} task(s)</button>
    </li>`)}</ul>
    <button class="big" onClick=${load}>Refresh</button>`;
}

function App() {
  const [me, setMe] = useState(undefined);
  const [order, setOrder] = useState(null);
  const [queue, setQueue] = useState({ waiting: [], refused: [] });

  useEffect(() => subscribe(setQueue), []);
  useEffect(() => {
    if (!token()) return setMe(null);
    api('GET', '/me').then((who) => setMe(accept(who) ? null : who), () => setMe(null));
  }, []);
  useEffect(() => {
    if (me) { forDevice(me.name); void snapshot().then(setQueue); }
  }, [me]);

  if (me === undefined) return html`<main><p>Loading…</p></main>`;
  if (me === null) {
    return html`<${SignIn} title="Counting: sign in" accept=${accept} onSignedIn=${setMe}
      hint="The device's own token (or a person's who counts)." />`;
  }
  return html`<header class="bar"><h1>Counting</h1><${Who} me=${me} onSignOut=${() => { setMe(null); setOrder(null); }} /></header>
    <main>
      <${QueueStatus} queue=${queue} />
      ${order ? html`<${CountOrder} order=${order} queue=${queue} onClose=${() => setOrder(null)} />` : html`<${Orders} onOpen=${setOrder} />`}
    </main>`;
}

render(html`<${Guard}><${App} /><//>`, document.getElementById('app'));
