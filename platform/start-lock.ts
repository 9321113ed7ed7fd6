import fs from 'node:fs';
import path from 'node:path';
import { isAlive, readProcess } from './proc';
import { StartupError } from './startup-error';

/**
 * One `npm start` per data directory. The lock is a pid file; a pid that is
 * dead (or reused by something that is not a start) is a killed start's, and
 * whatever that start left running is ours to clean up.
 */
export function acquireStartLock(dataDir: string): { release(): void } {
  fs.mkdirSync(dataDir, { recursive: true });
  const file = path.join(dataDir, 'start.pid');
  const holder = Number(readOrEmpty(file).trim());
  if (holder && holder !== process.pid && isAlive(holder) && isStart(holder)) {
    throw new StartupError(`another npm start (pid ${holder}) already runs on ${dataDir}: stop it first, or set STOCKTAKE_DATA_DIR to another folder`);
  }
  fs.writeFileSync(file, `${process.pid}\n`);
  return {
    release() {
      if (Number(readOrEmpty(file).trim()) === process.pid) fs.rmSync(file, { force: true });
    },
  };
}

function isStart(pid: number): boolean {
  return (readProcess(pid)?.argv ?? []).some((arg) => arg.endsWith('start.ts'));
}

function readOrEmpty(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}
