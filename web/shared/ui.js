import { h } from 'preact';
import { useErrorBoundary, useState } from 'preact/hooks';
import htm from 'htm';
import { api, Problem, signIn, signOut } from './api.js';

/** JSX-like templates without a build step. */
export const html = htm.bind(h);

/** A refusal or failure in words: the API's title and detail, never raw JSON. */
export function ProblemView({ problem, onDismiss }) {
  if (!problem) return null;
  // A Problem from the API, a page's own {title, detail}, or anything thrown.
  const p = problem.title ? problem : new Problem(-1, 'Something went wrong', String(problem?.message ?? problem));
  return html`<div class="problem" role="alert">
    <strong>${p.title}</strong>${p.detail ? html`<p>${p.detail}</p>` : null}
    ${onDismiss ? html`<button type="button" class="link" onClick=${onDismiss}>Dismiss</button>` : null}
  </div>`;
}

/** A success in words, announced to screen readers. */
export function Verdict({ text }) {
  return text ? html`<p class="verdict" role="status">${text}</p>` : null;
}

/**
 * Sign-in with a bearer token. `accept(me)` decides whether this page is for
 * that role; a refusal says why, and the token is not kept.
 */
export function SignIn({ title, hint, accept, onSignedIn }) {
  const [value, setValue] = useState('');
  const [problem, setProblem] = useState(null);
  const submit = async (e) => {
    e.preventDefault();
    setProblem(null);
    signIn(value);
    try {
      const me = await api('GET', '/me');
      const refusal = accept(me);
      if (refusal) {
        signOut();
        setProblem(new Problem(403, 'Not for this page', refusal));
        return;
      }
      onSignedIn(me);
    } catch (err) {
      signOut();
      setProblem(err);
    }
  };
  return html`<main class="signin">
    <h1>${title}</h1>
    <form onSubmit=${submit}>
      <label for="token">Bearer token</label>
      <input id="token" name="token" type="password" autocomplete="off" required value=${value} onInput=${(e) => setValue(e.currentTarget.value)} />
      <p class="hint">${hint}</p>
      <button type="submit" class="primary">Sign in</button>
    </form>
    <${ProblemView} problem=${problem} />
  </main>`;
}

/** Who is signed in, and the way out. */
export function Who({ me, onSignOut }) {
  return html`<div class="who">
    <span>${me.name} (${me.role.replace('_', ' ')})</span>
    <button type="button" class="link" onClick=${() => { signOut(); onSignOut(); }}>Sign out</button>
  </div>`;
}

const money = new Intl.NumberFormat(undefined, { minimumFractionDigits: 2, maximumFractionDigits: 2 });
const qty = new Intl.NumberFormat(undefined, { maximumFractionDigits: 4 });

export function fmtMoney(x) {
  return x === null || x === undefined ? '' : money.format(x);
}

export function fmtQty(x) {
  return x === null || x === undefined ? '' : qty.format(x);
}

export function signed(x, f = fmtQty) {
  if (x === null || x === undefined) return '';
  return x > 0 ? `+${f(x)}` : f(x);
}

/** Status words as a person reads them. */
export function words(code) {
  return String(code ?? '').replaceAll('_', ' ');
}

/** A fault in the page's own code still ends in words, never a blank page. */
export function Guard({ children }) {
  const [error, reset] = useErrorBoundary();
  if (error) {
    return html`<main><${ProblemView} problem=${{ title: 'This page ran into a fault', detail: `${error.message}; reload the page to go on` }} />
      <button type="button" onClick=${reset}>Try again</button></main>`;
  }
  return children;
}
