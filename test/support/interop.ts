/**
 * Interop tests need third-party programs (python3-libtorrent, opentracker, nginx, aria2...). On a bare
 * laptop they skip with a reason; with TORRENT_TS_STRICT_INTEROP=1 (set by CI) a missing program is a
 * failure, so a skipped interop test can never pass for a green run.
 */
import { spawnSync } from 'node:child_process';

export const STRICT_INTEROP = process.env.TORRENT_TS_STRICT_INTEROP === '1';

/** Returns a skip reason (or false when available). Throws in strict mode when missing. */
export function requireProgram(what: string, available: boolean, installHint: string): string | false {
  if (available) return false;
  const reason = `${what} is not installed (${installHint})`;
  if (STRICT_INTEROP) throw new Error(`interop test cannot run: ${reason}`);
  return reason;
}

const cache = new Map<string, boolean>();

/** True when `command args…` runs and exits 0. */
export function commandWorks(command: string, args: string[]): boolean {
  const key = [command, ...args].join('\0');
  let ok = cache.get(key);
  if (ok === undefined) {
    const r = spawnSync(command, args, { stdio: 'ignore', timeout: 20_000 });
    ok = r.status === 0;
    cache.set(key, ok);
  }
  return ok;
}

/** Debian's python, where python3-libtorrent installs (another python3 on PATH may not see it). */
export const DEBIAN_PYTHON = '/usr/bin/python3';

export function needLibtorrent(): string | false {
  return requireProgram(
    'python3-libtorrent',
    commandWorks(DEBIAN_PYTHON, ['-c', 'import libtorrent']),
    'apt-get install python3-libtorrent',
  );
}
