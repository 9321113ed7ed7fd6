import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { canEnter, type ServerAccount } from './postgres-account';
import { SHARED_ROOT } from './postgres-binaries';
import { StartupError } from './startup-error';

/**
 * Where a cluster asked for at `requested` really lives. Normally right there.
 * As root, in a folder the `postgres` user cannot enter (a clone in /root, any
 * mktemp -d), the cluster goes where it can, and `requested` becomes a symlink
 * to it: later starts, and other processes reading postmaster.pid through
 * `requested`, find the same cluster. The user's folders keep their modes.
 */
export interface ClusterLocation {
  /** The data directory the server runs in (no symlink in the last step). */
  dataDir: string;
  /** Set when relocated: the directory created for this cluster, removed with a throwaway cluster. */
  relocatedRoot: string | undefined;
}

export function locateCluster(
  requested: string,
  opts: { persistent: boolean; account: ServerAccount | undefined; log: (line: string) => void },
): ClusterLocation {
  const pointer = pointerTarget(requested);
  if (pointer) {
    const root = path.dirname(pointer);
    if (!fs.existsSync(pointer)) {
      opts.log(`${requested} points to ${pointer}, which is gone: creating a new cluster there`);
      markOrigin(root, requested);
    }
    ensureServerDir(pointer, opts.account);
    // Only a directory we created (its origin note names this pointer) is ours to remove; a link the user made is not.
    return { dataDir: pointer, relocatedRoot: originOf(root) === requested ? root : undefined };
  }
  fs.mkdirSync(path.dirname(requested), { recursive: true });
  if (!opts.account || canEnter(path.dirname(requested), opts.account)) {
    ensureServerDir(requested, opts.account);
    return { dataDir: requested, relocatedRoot: undefined };
  }
  try {
    return relocate(requested, opts.persistent, opts.account, opts.log);
  } catch (e) {
    if (e instanceof StartupError) throw e;
    throw new StartupError(
      `the postgres user cannot enter ${path.dirname(requested)} and the cluster cannot be placed elsewhere (${e instanceof Error ? e.message : String(e)}): run npm start as a normal user or set STOCKTAKE_DATA_DIR to a folder every user can traverse`,
    );
  }
}

function relocate(requested: string, persistent: boolean, account: ServerAccount, log: (line: string) => void): ClusterLocation {
  const base = persistent ? SHARED_ROOT : reachableTempDir(account);
  const root = path.join(base, `${persistent ? '' : 'stocktake-pg-'}${shortHash(requested)}`);
  const dataDir = path.join(root, 'pg');
  log(`the postgres user cannot enter ${path.dirname(requested)}: the cluster lives in ${dataDir}, linked from ${requested}`);
  markOrigin(root, requested);
  if (!canEnter(root, account)) {
    throw new StartupError(`the postgres user cannot enter ${root}: make ${base} traversable (chmod 755) or run npm start as a normal user`);
  }
  if (fs.existsSync(requested)) moveExisting(requested, dataDir);
  ensureServerDir(dataDir, account);
  fs.symlinkSync(dataDir, requested);
  return { dataDir, relocatedRoot: root };
}

/** A cluster created before this folder became private moves along; an empty directory just makes way. */
function moveExisting(requested: string, dataDir: string): void {
  if (fs.readdirSync(requested).length === 0) {
    fs.rmdirSync(requested);
    return;
  }
  if (fs.existsSync(dataDir)) {
    throw new StartupError(`both ${requested} and ${dataDir} hold a PostgreSQL cluster: remove the one you do not need`);
  }
  try {
    fs.renameSync(requested, dataDir);
  } catch (e) {
    throw new StartupError(
      `the PostgreSQL cluster in ${requested} is in a folder the postgres user cannot enter and cannot be moved to ${dataDir}: move it there yourself, or run npm start as a normal user`,
      e instanceof Error ? e.message : String(e),
    );
  }
}

/** The server needs its data directory to itself: owned by it, mode 0700 (initdb and postgres insist). */
function ensureServerDir(dir: string, account: ServerAccount | undefined): void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (!account) return;
  const stat = fs.statSync(dir);
  if (stat.uid === account.uid) return;
  if (fs.readdirSync(dir).length > 0) {
    throw new StartupError(`${dir} belongs to uid ${stat.uid}, not to the postgres user: run npm start as that user, or set STOCKTAKE_DATA_DIR to another folder`);
  }
  fs.chownSync(dir, account.uid, account.gid);
  fs.chmodSync(dir, 0o700);
}

/** A note for whoever finds the directory and wonders whose it is; also how we recognise our own. */
function markOrigin(root: string, requested: string): void {
  fs.mkdirSync(root, { recursive: true, mode: 0o755 });
  fs.writeFileSync(path.join(root, 'origin'), `${requested}\n`);
}

function originOf(root: string): string | undefined {
  try {
    return fs.readFileSync(path.join(root, 'origin'), 'utf8').trim();
  } catch {
    return undefined;
  }
}

function pointerTarget(requested: string): string | undefined {
  try {
    if (!fs.lstatSync(requested).isSymbolicLink()) return undefined;
  } catch {
    return undefined;
  }
  return path.resolve(path.dirname(requested), fs.readlinkSync(requested));
}

function reachableTempDir(account: ServerAccount): string {
  const candidates = [...new Set([os.tmpdir(), '/tmp', '/var/tmp'])];
  const found = candidates.find((dir) => fs.existsSync(dir) && canEnter(dir, account));
  if (!found) throw new StartupError(`the postgres user can enter none of ${candidates.join(', ')}: set TMPDIR to a folder it can enter`);
  return found;
}

function shortHash(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 12);
}

/** Removes a throwaway cluster: its data, a relocation root created for it, and the pointer. */
export function removeCluster(requested: string, location: ClusterLocation): void {
  fs.rmSync(location.relocatedRoot ?? location.dataDir, { recursive: true, force: true });
  if (location.relocatedRoot) fs.rmSync(requested, { force: true });
}
