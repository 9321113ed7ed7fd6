import { useState } from 'preact/hooks';
import { api, newKey } from '../shared/api.js';

/**
 * A decision sent to the API from a page: its verdict in words, or the
 * problem the API answered, and busy while it is under way. Each send carries
 * an idempotency key of its own: a send the network repeats is applied once.
 */
export function useDecision(id, refresh) {
  const [verdict, setVerdict] = useState(null);
  const [problem, setProblem] = useState(null);
  const [busy, setBusy] = useState(false);
  const decide = async (path, body, describe) => {
    setVerdict(null);
    setProblem(null);
    setBusy(true);
    try {
      const result = await api('POST', `/reconciliations/${id}/${path}`, body, { 'idempotency-key': newKey() });
      setVerdict(describe(result));
      return result;
    } catch (err) {
      setProblem(err);
      return undefined;
    } finally {
      setBusy(false);
      refresh();
    }
  };
  return { verdict, problem, busy, decide, clear: () => { setVerdict(null); setProblem(null); } };
}
