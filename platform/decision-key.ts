import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { decodeKey } from '../domain/decision-signature';
import { StartupError } from './startup-error';

/**
 * The secret the API signs decisions with and the worker's workflows verify
 * (see workflows/decision-key.ts): STOCKTAKE_DECISION_KEY, the same for the
 * API and every worker (64 hex characters, e.g. `openssl rand -hex 32`).
 * `npm start` without it keeps one of its own in <dataDir>/decision.key,
 * readable by its owner only.
 */
export function decisionKeyFromEnv(): string | undefined {
  const text = process.env.STOCKTAKE_DECISION_KEY?.trim();
  if (!text) return undefined;
  checked(text, 'STOCKTAKE_DECISION_KEY');
  return text;
}

export function requireDecisionKey(): string {
  const key = decisionKeyFromEnv();
  if (!key) {
    throw new StartupError('STOCKTAKE_DECISION_KEY is not set: give the API and every worker the same secret of 64 hex characters (openssl rand -hex 32)');
  }
  return key;
}

export function localDecisionKey(dataDir: string): string {
  const fromEnv = decisionKeyFromEnv();
  if (fromEnv) return fromEnv;
  const file = path.join(dataDir, 'decision.key');
  if (!fs.existsSync(file)) {
    fs.mkdirSync(dataDir, { recursive: true });
    fs.writeFileSync(file, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
  }
  return checked(fs.readFileSync(file, 'utf8').trim(), file);
}

function checked(text: string, where: string): string {
  try {
    decodeKey(text);
  } catch (e) {
    throw new StartupError(`${where} is not a usable decision key: ${e instanceof Error ? e.message : String(e)}`);
  }
  return text;
}
