import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { TEMPORAL_DYNAMIC_CONFIG } from '../platform/temporal-dev-server';
import { ROOT } from './support/processes';

/**
 * The embedded dev server and docker-compose's Temporal run with the same
 * dynamic config, so what the benchmarks measure on one is what the other
 * does. This machine cannot start the compose stack, so the file is read.
 */
describe('Temporal server settings', () => {
  const yaml = fs.readFileSync(path.join(ROOT, 'deploy', 'temporal-dynamicconfig.yaml'), 'utf8');

  it.each(Object.entries(TEMPORAL_DYNAMIC_CONFIG))('gives docker-compose the dev server value of %s', (key, value) => {
    const entry = new RegExp(`^${key.replace(/\./g, '\\.')}:\\n  - value: (.+)\\n    constraints: \\{\\}$`, 'm').exec(yaml);
    expect(entry?.[1]).toBe(JSON.stringify(value));
  });
});
