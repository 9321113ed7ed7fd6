import { findTemporalBinary } from '../platform/temporal-binaries';

/** Finds or installs the Temporal CLI (dev server) and the time-skipping test server; prints their paths. */
for (const kind of ['cli', 'test-server'] as const) {
  console.log(`temporal ${kind}: ${findTemporalBinary(kind, (line) => console.log(`  ${line}`))}`);
}
