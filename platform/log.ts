import pino, { type Logger } from 'pino';
import pretty from 'pino-pretty';

export type { Logger } from 'pino';

/**
 * The one logger of a Stocktake process (API, worker, or both under `npm
 * start`): one line per event on stdout. JSON by default, for a log
 * collector; readable lines when a person watches (stdout is a terminal, or
 * LOG_FORMAT=pretty). LOG_FORMAT=json forces JSON in a terminal too.
 * LOG_LEVEL: trace, debug, info (default), warn, error, fatal or silent.
 *
 * Writes are synchronous: a line logged just before the process exits
 * (a failed start, a signal) is not lost in a buffer.
 */
// Before `log`: createLogger reads it while the module is still initialising.
const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export const log: Logger = createLogger(process.env);

export function createLogger(env: NodeJS.ProcessEnv, stdoutIsTerminal = process.stdout.isTTY === true): Logger {
  const level = logLevel(env.LOG_LEVEL);
  const format = logFormat(env.LOG_FORMAT, stdoutIsTerminal);
  const options: pino.LoggerOptions = {
    level,
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    // Level names rather than pino's numbers: a person reading a JSON line or a query in a collector both want "warn".
    formatters: { level: (label) => ({ level: label }) },
    // The only secret a request carries; nothing logs headers, but a mistake should not become a leak.
    redact: { paths: ['authorization', 'headers.authorization', '*.authorization'], censor: '[redacted]' },
  };
  if (format === 'pretty') {
    return pino(options, pretty({ colorize: stdoutIsTerminal, sync: true, singleLine: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid' }));
  }
  return pino(options, pino.destination({ dest: 1, sync: true }));
}

function logLevel(value: string | undefined): string {
  const wanted = (value ?? '').trim().toLowerCase();
  return (LEVELS as readonly string[]).includes(wanted) ? wanted : 'info';
}

function logFormat(value: string | undefined, stdoutIsTerminal: boolean): 'json' | 'pretty' {
  const wanted = (value ?? '').trim().toLowerCase();
  if (wanted === 'json' || wanted === 'pretty') return wanted;
  return stdoutIsTerminal ? 'pretty' : 'json';
}
