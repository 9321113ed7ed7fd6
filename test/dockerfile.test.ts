import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from './support/processes';

/**
 * The image is the production-like path and this machine cannot build it, so
 * its file list is held against the tree: every top-level folder the API or
 * the worker loads at run time must reach the image (a folder added later and
 * forgotten would only fail at container start).
 */
const NOT_IN_IMAGE = new Set(['test', 'bench', 'node_modules', 'deploy', 'docs']);
const runtimeFolders = fs
  .readdirSync(ROOT, { withFileTypes: true })
  .filter((d) => d.isDirectory() && !d.name.startsWith('.') && !NOT_IN_IMAGE.has(d.name))
  .map((d) => d.name)
  .sort();

describe('the container image', () => {
  it('copies every runtime folder', () => {
    const dockerfile = fs.readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');
    const copied = [...dockerfile.matchAll(/^COPY (\S+) \.\/\1$/gm)].map((m) => m[1]);
    expect(runtimeFolders.filter((f) => !copied.includes(f))).toEqual([]);
  });

  it('lets every runtime folder into the build context', () => {
    const allowed = fs.readFileSync(path.join(ROOT, '.dockerignore'), 'utf8').split('\n').filter((l) => l.startsWith('!')).map((l) => l.slice(1).replace(/\/$/, ''));
    expect(runtimeFolders.filter((f) => !allowed.includes(f))).toEqual([]);
  });
});
