/**
 * How the CLI ends: one plain line naming the problem and an exit code a script can act on. The stack trace
 * appears only with --verbose.
 */

export const ExitCode = {
  ok: 0,
  /** The job could not finish: no peers, tracker failures only, disk full... */
  failed: 1,
  /** Bad input: wrong arguments, file not found, malformed or unsafe torrent. */
  badInput: 2,
  /** Stopped by Ctrl-C / SIGTERM; a later run resumes. */
  interrupted: 130,
} as const;

/** A problem with what the user typed or pointed us at. */
export class InputError extends Error {
  override name = 'InputError';
}

const INPUT_ERRORS = new Set(['InputError', 'MetainfoError', 'UnsafePathError', 'BencodeError', 'CreateTorrentError']);

export function exitCodeFor(err: unknown): number {
  if (err instanceof Error && INPUT_ERRORS.has(err.name)) return ExitCode.badInput;
  return ExitCode.failed;
}

export function describeError(err: unknown, verbose: boolean): string {
  if (!(err instanceof Error)) return String(err);
  if (verbose) {
    let text = err.stack ?? err.message;
    let cause = err.cause;
    while (cause instanceof Error) {
      text += `\ncaused by: ${cause.stack ?? cause.message}`;
      cause = cause.cause;
    }
    return text;
  }
  return err.message;
}
