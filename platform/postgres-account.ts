import { execFileSync, spawnSync } from 'node:child_process';
import { StartupError } from './startup-error';

/** The unprivileged user PostgreSQL runs as when we are root (it refuses to run as root). */
export interface ServerAccount {
  name: string;
  uid: number;
  gid: number;
}

const NAME = 'postgres';

/**
 * Undefined when we are not root: the server then runs as ourselves. As root,
 * the `postgres` user, created (as a system user without a home or login) if
 * the machine has none.
 */
export function serverAccount(log: (line: string) => void): ServerAccount | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const existing = lookUp(NAME);
  if (existing) return existing;
  log(`creating system user '${NAME}' to run PostgreSQL (it refuses to run as root)`);
  const failures: string[] = [];
  for (const [cmd, ...args] of creationCommands(NAME)) {
    try {
      execFileSync(cmd!, args, { stdio: 'pipe' });
    } catch (e) {
      failures.push(`${cmd}: ${firstLine(e)}`);
    }
    const created = lookUp(NAME);
    if (created) return created;
  }
  throw new StartupError(
    `running as root, there is no '${NAME}' user to run PostgreSQL and it cannot be created: create one (useradd --system ${NAME}), run npm start as a normal user, or set DATABASE_URL`,
    failures.join('; '),
  );
}

/** Debian/Red Hat tools first, then BusyBox (Alpine). A group that already exists is not a failure. */
function creationCommands(name: string): string[][] {
  return [
    ['groupadd', '--system', name],
    ['useradd', '--system', '--gid', name, '--no-create-home', '--home-dir', '/nonexistent', '--shell', '/usr/sbin/nologin', name],
    ['addgroup', '-S', name],
    ['adduser', '-S', '-D', '-H', '-G', name, name],
  ];
}

function lookUp(name: string): ServerAccount | undefined {
  try {
    const uid = Number(execFileSync('id', ['-u', name], { encoding: 'utf8', stdio: 'pipe' }).trim());
    const gid = Number(execFileSync('id', ['-g', name], { encoding: 'utf8', stdio: 'pipe' }).trim());
    return Number.isInteger(uid) && Number.isInteger(gid) ? { name, uid, gid } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Whether the account can enter `dir` (every ancestor traversable, ACLs and
 * all): asked of the kernel by a shell running with exactly the credentials
 * the server gets (Node drops supplementary groups when it switches uid).
 * fs.accessSync would answer for root, who may enter anything.
 */
export function canEnter(dir: string, account: ServerAccount): boolean {
  return runAs(account, 'cd -- "$1"', dir);
}

/** Whether the account may execute `file` (and reach it). */
export function canExecute(file: string, account: ServerAccount): boolean {
  return runAs(account, 'test -x "$1"', file);
}

function runAs(account: ServerAccount, script: string, arg: string): boolean {
  const result = spawnSync('/bin/sh', ['-c', script, 'sh', arg], { uid: account.uid, gid: account.gid, stdio: 'ignore', cwd: '/' });
  return result.status === 0;
}

function firstLine(e: unknown): string {
  const err = e as { stderr?: Buffer; message?: string };
  return (err.stderr?.toString() || err.message || String(e)).trim().split('\n')[0] ?? '';
}
