import fs from 'node:fs';

/** Prints vitest's JSON result as the plain closing line CI reads: "N passed, N failed, N skipped". */
const file = process.argv[2] ?? '.test-data/vitest.json';
const r = JSON.parse(fs.readFileSync(file, 'utf8')) as { numPassedTests: number; numFailedTests: number; numPendingTests: number; numTodoTests: number };
console.log(`${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests + r.numTodoTests} skipped`);
// A second guard on the verdict: a failed or empty run must never exit 0.
if (r.numFailedTests > 0 || r.numPassedTests === 0) process.exit(1);
