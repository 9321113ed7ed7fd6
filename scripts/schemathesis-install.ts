import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

/**
 * Installs the pinned Schemathesis into the project's venv (.tools/venv,
 * shared with the Temporal wheels), for test/schemathesis.test.ts. Does
 * nothing when that version is there already. From PyPI only.
 */
export const SCHEMATHESIS = 'schemathesis==4.32.5';

const VENV = path.resolve(import.meta.dirname, '..', '.tools', 'venv');
const st = path.join(VENV, 'bin', 'st');

function installedVersion(): string | undefined {
  if (!fs.existsSync(st)) return undefined;
  try {
    return /version (\S+)/.exec(execFileSync(st, ['--version'], { encoding: 'utf8' }))?.[1];
  } catch {
    return undefined;
  }
}

const wanted = SCHEMATHESIS.split('==')[1];
if (installedVersion() === wanted) {
  console.log(`schemathesis ${wanted}: ${st}`);
} else {
  if (!fs.existsSync(path.join(VENV, 'bin', 'pip'))) execFileSync('python3', ['-m', 'venv', VENV], { stdio: 'inherit' });
  console.log(`installing ${SCHEMATHESIS} into ${VENV}`);
  execFileSync(path.join(VENV, 'bin', 'pip'), ['install', '--quiet', '--disable-pip-version-check', SCHEMATHESIS], { stdio: 'inherit' });
  console.log(`schemathesis ${installedVersion()}: ${st}`);
}
