/**
 * `torrent download` and `torrent seed`: one torrent in a Client, shown with the progress view, ended by
 * completion (download), a seeding limit, a failure, or Ctrl-C (a later run resumes).
 */
import { createLogger } from '../log/index.js';
import { Client } from '../session/client.js';
import type { PeerAddress } from '../session/peer-pool.js';
import type { Torrent } from '../session/torrent.js';
import { ExitCode, InputError } from './failure.js';
import { chooseProgressMode, createProgressView } from './progress.js';

export interface TransferOptions {
  peer?: string[];
  port?: string;
  listenHost?: string;
  maxPeers?: string;
  quiet?: boolean;
  json?: boolean;
  webSeeds?: boolean;
  trackers?: boolean;
  seed?: boolean;
  seedRatio?: number;
  seedTime?: number;
  limitDown?: number;
  limitUp?: number;
  stateDir?: string;
  timeout?: number;
  verbose?: boolean;
  logFile?: string;
}

export class NoPeersError extends Error {
  override name = 'NoPeersError';
}

export function parsePeerAddress(text: string): PeerAddress {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(text) ?? /^([^:]+):(\d+)$/.exec(text);
  const port = m ? Number(m[2]) : NaN;
  if (!m || !(port > 0 && port < 65536)) throw new InputError(`--peer ${text}: expected HOST:PORT`);
  return { host: m[1], port };
}

export function parseIntegerOption(name: string, text: string | undefined, min: number, max: number): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max) throw new InputError(`${name} ${text}: expected a whole number from ${min} to ${max}`);
  return n;
}

const STATS_INTERVAL_MS = 250;

/** Runs one torrent to its end; resolves with the exit code. */
export async function runTransfer(file: string, dir: string, mode: 'download' | 'seed', opts: TransferOptions): Promise<number> {
  const peers = (opts.peer ?? []).map(parsePeerAddress);
  const logger = await createLogger({ level: opts.verbose ? 'debug' : opts.logFile ? 'info' : 'silent', file: opts.logFile });
  const client = new Client({
    port: parseIntegerOption('--port', opts.port, 0, 65535),
    listenHost: opts.listenHost,
    maxPeers: parseIntegerOption('--max-peers', opts.maxPeers, 1, 10_000),
    stateDir: opts.stateDir,
    downloadLimit: opts.limitDown,
    uploadLimit: opts.limitUp,
    logger,
  });
  let torrent: Torrent;
  try {
    torrent = await client.add(file, { path: dir, peers, webSeeds: opts.webSeeds !== false, trackers: opts.trackers !== false });
  } catch (err) {
    await client.destroy();
    throw err;
  }
  const view = createProgressView(chooseProgressMode(opts, process.stdout), torrent.name, process.stdout, process.stderr);
  view.event('start', { name: torrent.name, infoHash: torrent.infoHash, path: torrent.path, port: client.port });
  torrent.on('warning', (m) => view.warning(m));
  torrent.on('state', (s) => view.event('state', { state: s.status }));
  return await new Promise<number>((resolveExit, rejectExit) => {
    let finished = false;
    const end = async (code: number, error?: Error) => {
      if (finished) return;
      finished = true;
      clearInterval(ticker);
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      // The closing numbers are always shown, however recently the last throttled update was.
      view.update(torrent.stats(), true);
      view.stop();
      await client.destroy();
      if (error) rejectExit(error);
      else resolveExit(code);
    };
    // After completion, stopping a seed is the normal way out.
    const stop = () => {
      void end(torrent.state.status === 'seeding' && mode === 'download' ? ExitCode.ok : ExitCode.interrupted);
    };
    const onSignal = () => {
      view.event('interrupted');
      stop();
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    // A reader that stops reading (`torrent download --json | head`) ends the run as Ctrl-C does, without a
    // stack trace; verified pieces are kept for the next run. The listeners stay: output written while
    // stopping fails the same way.
    process.stdout.on('error', stop);
    process.stderr.on('error', stop);

    const timeoutMs = (opts.timeout ?? 120) * 1000;
    let lonelySince = Date.now();
    let seedingSince: number | undefined;
    const ticker = setInterval(() => {
      const s = torrent.stats();
      view.update(s);
      const now = Date.now();
      if (s.peers > 0 || s.webSeedRate > 0 || s.state !== 'downloading') lonelySince = now;
      else if (timeoutMs > 0 && now - lonelySince > timeoutMs) {
        void end(ExitCode.failed, new NoPeersError(`no peers found within ${Math.round(timeoutMs / 1000)} s (check the trackers, or add --peer HOST:PORT)`));
      }
      if (s.state === 'seeding' && (mode === 'seed' || opts.seed)) {
        seedingSince ??= now;
        const ratioReached = opts.seedRatio !== undefined && s.uploaded >= opts.seedRatio * s.totalBytes;
        const timeReached = opts.seedTime !== undefined && now - seedingSince >= opts.seedTime * 1000;
        if (ratioReached || timeReached) {
          view.event('seeding-limit', { uploaded: s.uploaded });
          void end(ExitCode.ok);
        }
      }
    }, STATS_INTERVAL_MS);

    torrent.done.then(
      () => {
        const s = torrent.stats();
        view.event('done', { verifiedBytes: s.verifiedBytes, pieces: s.pieceCount });
        if (mode === 'download' && !opts.seed) void end(ExitCode.ok);
      },
      (err: Error) => void end(ExitCode.failed, err),
    );
    if (mode === 'seed') {
      torrent.on('state', (s) => {
        if (s.status === 'downloading') {
          const st = torrent.stats();
          void end(
            ExitCode.badInput,
            new InputError(
              `only ${(st.progress * 100).toFixed(1)}% of ${torrent.name} is in ${torrent.path}; point -d at the folder that holds the data, or use "torrent download" to fetch the rest`,
            ),
          );
        }
      });
    }
  });
}
