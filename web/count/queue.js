import { createStore, del, entries, set } from 'idb-keyval';
import { api } from '../shared/api.js';

/**
 * Count entries wait here (IndexedDB, so a reload or a dead battery loses
 * nothing) until the API has them. Each batch keeps the submissionId it was
 * given when it was typed: sending it again after a dropped connection is
 * the same submission, which the API stores once. A batch the API refuses
 * (a quantity the unit does not allow, an order cancelled) moves to the
 * refused list with the API's words, so nobody's count vanishes silently.
 */
const waiting = createStore('stocktake-count-queue', 'submissions');
const refusedStore = createStore('stocktake-count-refused', 'submissions');
const listeners = new Set();
let device = null;
let flushing = null;

export function subscribe(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

async function notify() {
  const state = await snapshot();
  for (const fn of listeners) fn(state);
}

/** Only the signed-in device's own batches are sent with its token. */
export function forDevice(name) {
  device = name;
  void notify();
  void flush();
}

async function list(store) {
  return (await entries(store)).map(([, v]) => v).filter((v) => v.device === device).sort((a, b) => a.at - b.at);
}

export async function snapshot() {
  if (!device) return { waiting: [], refused: [] };
  return { waiting: await list(waiting), refused: await list(refusedStore) };
}

export async function enqueue(orderId, submissionId, countEntries) {
  await set(submissionId, { orderId, submissionId, entries: countEntries, device, at: Date.now() }, waiting);
  await notify();
  return flush();
}

export async function dismissRefused(submissionId) {
  await del(submissionId, refusedStore);
  await notify();
}

/** Sends what waits, oldest first; stops at the first batch that cannot get through (tried again later). */
export function flush() {
  if (!flushing) flushing = send().finally(() => { flushing = null; });
  return flushing;
}

async function send() {
  if (!device) return;
  for (const item of await list(waiting)) {
    try {
      await api('POST', `/count-orders/${item.orderId}/submissions`, { submissionId: item.submissionId, entries: item.entries });
      await del(item.submissionId, waiting);
    } catch (err) {
      // No answer, the server busy or the sign-in gone: keep it and try again later.
      if (err.unreachable || err.status >= 500 || err.status === 429 || err.status === 401) break;
      await set(item.submissionId, { ...item, refusal: { title: err.title, detail: err.detail } }, refusedStore);
      await del(item.submissionId, waiting);
    }
    await notify();
  }
  await notify();
}

addEventListener('online', () => void flush());
setInterval(() => void flush(), 5_000);
