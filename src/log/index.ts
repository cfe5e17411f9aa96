/**
 * Structured logging through pino. Library code never prints: it logs to the Logger it was given, which is
 * silent unless the front end asks for output (`--verbose`, `--log-file`).
 */
import { pino, destination, type Logger } from 'pino';

export type { Logger };

export interface LoggerOptions {
  /** 'silent' | 'error' | 'warn' | 'info' | 'debug' | 'trace' */
  level?: string;
  /** Append JSON lines to this file instead of stderr. */
  file?: string;
}

export function createLogger(opts: LoggerOptions = {}): Logger {
  const level = opts.level ?? 'silent';
  if (opts.file) return pino({ level }, destination({ dest: opts.file, append: true, mkdir: true, sync: true }));
  return pino({ level }, destination({ dest: 2, sync: true }));
}

export const silentLogger: Logger = pino({ level: 'silent' });
