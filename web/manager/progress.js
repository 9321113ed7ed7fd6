import { html, words } from '../shared/ui.js';

/**
 * The running step's progress, when the API reports one
 * (`stepProgress: {phase, done, total, ratePerSecond}` on the document), as a
 * progress bar with words.
 */
export function stepProgress(doc) {
  for (const p of [doc?.stepProgress, doc?.progress?.step, doc?.progress]) {
    if (p && typeof p === 'object' && typeof p.phase === 'string' && typeof p.done === 'number') return p;
  }
  return null;
}

/** The statuses in which a long step runs; at other times its figures are history. */
const RUNNING = ['snapshotting', 'populating', 'releasing'];

export function StepProgress({ doc }) {
  const p = stepProgress(doc);
  if (!p || !RUNNING.includes(doc.status)) return null;
  const total = typeof p.total === 'number' && p.total > 0 ? p.total : undefined;
  const rate = typeof p.ratePerSecond === 'number' && p.ratePerSecond > 0 ? `, ${Math.round(p.ratePerSecond).toLocaleString()} per second` : '';
  const label = `${words(p.phase)}: ${p.done.toLocaleString()}${total ? ` of ${total.toLocaleString()}` : ''}${rate}`;
  return html`<div class="step-progress">
    <progress max=${total ?? undefined} value=${total ? p.done : undefined} aria-label=${`${words(p.phase)} progress`}></progress>
    <span>${label}</span>
  </div>`;
}

/** Rows by what still needs a decision, from the workflow's progress. */
export function rowFigures(doc) {
  const r = doc?.progress?.rows;
  if (!r) return null;
  return { toApprove: r.toApprove, markedForRecount: r.markedForRecount, failed: r.failed, total: r.total };
}
