/**
 * python3-libtorrent peers for interop tests (test/support/lt_peer.py), on 127.0.0.1 only. Guard tests
 * with `{ skip: needLibtorrent() }` from ./interop.js. Every started process is killed by stop(), and as
 * a last resort when this test process exits.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import readline from 'node:readline';
import { DEBIAN_PYTHON } from './interop.js';

/** This file compiles to dist/test/support/; the script stays in test/support/. */
const SCRIPT = fileURLToPath(new URL('../../../test/support/lt_peer.py', import.meta.url));

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

export interface LibtorrentPeerOptions {
  /** Listen port; default 0 (ephemeral, reported back). */
  port?: number;
  /** Peers to connect to, as "127.0.0.1:PORT". */
  peers?: string[];
  /** Announce to the torrent's trackers (otherwise they are ignored). */
  tracker?: boolean;
  /** Use the torrent's web seeds (otherwise they are ignored). */
  webSeeds?: boolean;
  /** How long to wait for the peer to listen (and, for a seeder, to finish checking its data). */
  startTimeoutMs?: number;
}

export interface LibtorrentProcess {
  process: ChildProcess;
  /** Every stdout line so far (LISTEN, PEER, PROGRESS, ERROR ... see lt_peer.py). */
  output: string[];
  /** Kills the process (SIGTERM, then SIGKILL after 3 s) and waits for it to exit. Safe to call twice. */
  stop(): Promise<void>;
}

function startPeer(mode: 'seed' | 'download', torrentPath: string, dir: string, opts: LibtorrentPeerOptions) {
  const args = [SCRIPT, mode, torrentPath, dir, '--port', String(opts.port ?? 0)];
  for (const peer of opts.peers ?? []) args.push('--peer', peer);
  if (opts.tracker) args.push('--tracker');
  if (opts.webSeeds) args.push('--web-seeds');
  const child = spawn(DEBIAN_PYTHON, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  live.add(child);
  const output: string[] = [];
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      live.delete(child);
      resolve();
    }),
  );
  const lines = readline.createInterface({ input: child.stdout! });
  lines.on('line', (line) => output.push(line));

  /**
   * Resolves with the first stdout line (past or future) matching `pattern`; rejects when the process
   * exits first, on timeout, and with `failOnError` when it prints an ERROR line first.
   */
  const waitFor = (pattern: RegExp, timeoutMs: number, failOnError: boolean) =>
    new Promise<RegExpMatchArray>((resolve, reject) => {
      const fail = (why: string) => {
        cleanup();
        reject(new Error(`lt_peer.py ${mode}: ${why}\nstdout:\n${output.join('\n')}\nstderr:\n${stderr}`));
      };
      const onLine = (line: string) => {
        const m = line.match(pattern);
        if (m) {
          cleanup();
          resolve(m);
        } else if (failOnError && line.startsWith('ERROR')) {
          fail(`reported an error before "${pattern.source}"`);
        }
      };
      const onExit = () => fail(`exited (${child.exitCode ?? child.signalCode}) before "${pattern.source}"`);
      const timer = setTimeout(() => fail(`no "${pattern.source}" within ${timeoutMs} ms`), timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        lines.off('line', onLine);
        child.off('exit', onExit);
      };
      const earlier = output.find((line) => pattern.test(line));
      if (earlier !== undefined) {
        cleanup();
        resolve(earlier.match(pattern)!);
        return;
      }
      lines.on('line', onLine);
      child.once('exit', onExit);
    });

  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(killer);
    }
  };
  const startTimeoutMs = opts.startTimeoutMs ?? 30_000;
  const port = waitFor(/^LISTEN (\d+)$/, startTimeoutMs, true).then((m) => Number(m[1]));
  port.catch(() => {}); // callers observe it; this only keeps an ignored failure from being "unhandled"
  return { process: child, output, stop, port, waitFor, startTimeoutMs };
}

/**
 * Starts a libtorrent seeder for the data in `dir`; resolves once it listens and has checked its data
 * complete. On failure the process is killed and the error carries its output.
 */
export async function startLibtorrentSeeder(
  torrentPath: string,
  dir: string,
  opts: LibtorrentPeerOptions = {},
): Promise<LibtorrentProcess & { port: number }> {
  const peer = startPeer('seed', torrentPath, dir, opts);
  try {
    const port = await peer.port;
    await peer.waitFor(/^SEEDING$/, peer.startTimeoutMs, true);
    return { process: peer.process, output: peer.output, stop: peer.stop, port };
  } catch (e) {
    await peer.stop();
    throw e;
  }
}

/**
 * Starts a libtorrent downloader into `dir` (it keeps seeding afterwards). `done` resolves when every
 * piece is downloaded and hash-checked (libtorrent's torrent_finished) and rejects if the process exits
 * or `doneTimeoutMs` (default 120 s) passes first.
 */
export function startLibtorrentDownloader(
  torrentPath: string,
  dir: string,
  opts: LibtorrentPeerOptions & { doneTimeoutMs?: number } = {},
): LibtorrentProcess & { port: Promise<number>; done: Promise<void> } {
  const peer = startPeer('download', torrentPath, dir, opts);
  const done = peer.waitFor(/^FINISHED$/, opts.doneTimeoutMs ?? 120_000, false).then(() => undefined);
  done.catch(() => {}); // as for port
  return { process: peer.process, output: peer.output, stop: peer.stop, port: peer.port, done };
}
