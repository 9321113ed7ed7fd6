import { useEffect, useState } from 'preact/hooks';
import { api } from '../shared/api.js';
import { html, ProblemView, Verdict, words } from '../shared/ui.js';

/** Count orders of every round; an open one is given to a device (or a person) to count. */
export function Orders({ doc, decides, refresh }) {
  const [orders, setOrders] = useState(null);
  const [problem, setProblem] = useState(null);
  const [verdict, setVerdict] = useState(null);
  const [device, setDevice] = useState({});

  useEffect(() => {
    api('GET', `/reconciliations/${doc.id}/count-orders`).then(({ countOrders }) => setOrders(countOrders), setProblem);
  }, [doc]);

  const assign = async (e, order) => {
    e.preventDefault();
    setProblem(null);
    setVerdict(null);
    try {
      const o = await api('POST', `/count-orders/${order.id}/assignment`, { device: device[order.id] ?? '' });
      setVerdict(`Count order ${o.id} is assigned to ${o.assignedTo}.`);
      refresh();
    } catch (err) {
      setProblem(err);
    }
  };

  if (!orders || orders.length === 0) return html`<${ProblemView} problem=${problem} />`;
  return html`<h3 id="orders-title">Count orders</h3>
    <${Verdict} text=${verdict} />
    <${ProblemView} problem=${problem} />
    <table aria-labelledby="orders-title">
      <thead><tr><th scope="col">Order</th><th scope="col">Round</th><th scope="col">Kind</th><th scope="col" class="num">Tasks</th>
        <th scope="col">Status</th><th scope="col">Counted by</th></tr></thead>
      <tbody>${orders.map((o) => html`<tr key=${o.id}>
        <td>${o.id}</td><td>${o.round}</td><td>${o.kind}</td><td class="num">${o.tasks}</td><td>${words(o.status)}</td>
        <td>${decides && o.status === 'open'
          ? html`<form class="toolbar" onSubmit=${(e) => assign(e, o)}>
              <label for=${`assign-${o.id}`} class="sr-only">Device for order ${o.id}</label>
              <input id=${`assign-${o.id}`} placeholder="device name" required value=${device[o.id] ?? o.assignedTo ?? ''}
                onInput=${(e) => setDevice({ ...device, [o.id]: e.currentTarget.value })} />
              <button type="submit">${o.assignedTo ? 'Reassign' : 'Assign'}</button>
              ${o.assignedTo ? html`<span>now ${o.assignedTo}</span>` : null}
            </form>`
          : o.assignedTo ?? ''}</td>
      </tr>`)}</tbody>
    </table>`;
}
