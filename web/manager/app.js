import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { api, token } from '../shared/api.js';
import { Guard, html, ProblemView, SignIn, Who } from '../shared/ui.js';
import { Exceptions } from './exceptions.js';
import { ReconciliationList } from './list.js';
import { Reconciliation } from './reconciliation.js';

/** Managers decide; auditors read (the API refuses them every decision). Counters count elsewhere. */
const READERS = ['manager', 'senior_manager', 'auditor'];

function accept(me) {
  if (READERS.includes(me.role)) return null;
  return `these pages are for managers and auditors; ${me.name} is a ${me.role.replace('_', ' ')}. Counting is at /ui/count.`;
}

/** Where we are: #/ (the list), #/exceptions or #/r/<id>/<tab>. */
function route() {
  const [, kind, id, tab] = location.hash.split('/');
  if (kind === 'r' && id) return { id, tab: tab || 'overview' };
  return { id: null, exceptions: kind === 'exceptions' };
}

function App() {
  const [me, setMe] = useState(undefined);
  const [problem, setProblem] = useState(null);
  const [where, setWhere] = useState(route());

  useEffect(() => {
    const onHash = () => setWhere(route());
    addEventListener('hashchange', onHash);
    return () => removeEventListener('hashchange', onHash);
  }, []);

  useEffect(() => {
    if (!token()) return setMe(null);
    api('GET', '/me').then(
      (who) => setMe(accept(who) ? null : who),
      (err) => { setProblem(err); setMe(null); },
    );
  }, []);

  if (me === undefined) return html`<main><p>Loading…</p></main>`;
  if (me === null) {
    return html`<${ProblemView} problem=${problem} />
      <${SignIn} title="Stocktake: sign in" accept=${accept} onSignedIn=${(who) => { setProblem(null); setMe(who); }}
        hint="A manager's or auditor's token (npm start writes the demo users' tokens to .data/demo-tokens.json)." />`;
  }
  return html`<header class="bar">
      <h1><a href="#/">Stocktake</a></h1>
      <nav aria-label="Main"><a href="#/">Reconciliations</a><a href="#/exceptions">Exception queue</a></nav>
      <${Who} me=${me} onSignOut=${() => setMe(null)} />
    </header>
    <main>
      ${where.id ? html`<${Reconciliation} key=${where.id} id=${where.id} tab=${where.tab} me=${me} />`
        : where.exceptions ? html`<${Exceptions} />` : html`<${ReconciliationList} me=${me} />`}
    </main>`;
}

render(html`<${Guard}><${App} /><//>`, document.getElementById('app'));
