import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * The workflow owns a reconciliation's status, and one statement persists
 * it (store/reconciliations.ts, applyTransition). Any other statement that
 * sets the status would bring back two statuses that can disagree.
 */
const root = path.resolve(import.meta.dirname, '..');
const SOURCE_DIRS = ['activities', 'api', 'bench', 'db', 'domain', 'platform', 'scripts', 'store', 'workflows'];

function sources(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return sources(p);
    return e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') ? [p] : [];
  });
}

describe('the reconciliation status', () => {
  it('is written by exactly one statement, in store/reconciliations.ts', () => {
    const writers = SOURCE_DIRS.flatMap((d) => sources(path.join(root, d)))
      .flatMap((file) => {
        const text = fs.readFileSync(file, 'utf8');
        const hits = text.match(/update\s+reconciliation\s+set\b[^`;]*?\bstatus\s*=/gi) ?? [];
        return hits.map(() => path.relative(root, file));
      })
      // The migrations create the column; they never run a status update.
      .filter((f) => !f.startsWith('db/migrations/'));
    expect(writers).toEqual(['store/reconciliations.ts']);
  });
});
