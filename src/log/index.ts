/**
 * Structured logging. Library code never prints: it logs to the Logger it was given, which is silent unless
 * the front end asks for output (`--verbose`, `--log-file`); then pino writes it. pino is loaded only then:
 * it and its streams take ~20 ms of a command's start, which every download would otherwise pay for nothing.
 */

/** One log level's method, called pino's way: fields first, then the message; or the message alone. */
export interface LogFn {
  (fields: object, message?: string): void;
  (message: string): void;
}

/** What the library logs through. A pino logger is one; so is any logger with these methods. */
export interface Logger {
  error: LogFn;
  warn: LogFn;
  info: LogFn;
  debug: LogFn;
  /** A logger that adds `bindings` to every line. */
  child(bindings: object): Logger;
}

export interface LoggerOptions {
  /** 'silent' | 'error' | 'warn' | 'info' | 'debug' | 'trace' */
  level?: string;
  /** Append JSON lines to this file instead of stderr. */
  file?: string;
}

const ignore: LogFn = () => undefined;

/** Drops everything. */
export const silentLogger: Logger = {
  error: ignore,
  warn: ignore,
  info: ignore,
  debug: ignore,
  child: () => silentLogger,
};

export async function createLogger(opts: LoggerOptions = {}): Promise<Logger> {
  const level = opts.level ?? 'silent';
  if (level === 'silent') return silentLogger;
  // The default export: pino is CommonJS, and a bundled CommonJS module offers nothing else to import().
  const { default: pino } = await import('pino');
  const to = opts.file ? { dest: opts.file, append: true, mkdir: true, sync: true } : { dest: 2, sync: true };
  // Typed as ours: pino's own type has a key for every custom level, a `then` among them for an async function.
  const logger: Logger = pino({ level }, pino.destination(to));
  return logger;
}
