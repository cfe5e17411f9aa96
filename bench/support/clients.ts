/**
 * How each benchmarked program is started: our CLI, python3-libtorrent (lt_bench.py), WebTorrent
 * (webtorrent-download.js), aria2 and curl. Everything talks to 127.0.0.1 only.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitUntilIdle } from './proc-usage.js';
import {
  DEBIAN_PYTHON,
  freePort,
  type Service,
  startService,
  supportScript,
  waitUntilListening,
} from './processes.js';

/** A program to run: command and arguments. */
export interface Invocation {
  command: string;
  args: string[];
}

/** This file runs from dist/bench/support/; the `torrent` command is bundled into dist/bundle/cli/main.js. */
const OUR_CLI = fileURLToPath(new URL('../../bundle/cli/main.js', import.meta.url));
/**
 * The Node flags on the CLI's `#!/usr/bin/env -S node …` line: the installed `torrent` command runs with
 * them, so the benchmark does too.
 */
const OUR_NODE_FLAGS = readFileSync(OUR_CLI, 'utf8').split('\n', 1)[0].split(/\s+/).filter((word) => word.startsWith('--'));
const WEBTORRENT_DRIVER = fileURLToPath(new URL('./webtorrent-download.js', import.meta.url));
/** Where, inside a run's download dir, our CLI keeps its resume data. */
const OUR_STATE_DIR = '.torrent-ts-state';

/** How long a seeder may take to start and check its data. */
const SEEDER_START_MS = 120_000;

const ourHelp = new Map<string, string>();

/** `--listen-host 127.0.0.1` when our `command` supports it: it must accept peers on loopback only. */
function ourLoopbackOnly(command: 'download' | 'seed'): string[] {
  let help = ourHelp.get(command);
  if (help === undefined) {
    help = execFileSync(process.execPath, [OUR_CLI, command, '--help'], { encoding: 'utf8' });
    ourHelp.set(command, help);
  }
  return help.includes('--listen-host') ? ['--listen-host', '127.0.0.1'] : [];
}

/**
 * Our CLI downloading into `dir`. Its resume data goes into a folder inside `dir`, so every run starts
 * from nothing and nothing is left in the user's state folder.
 */
export function ourDownload(torrent: string, dir: string, peer?: string): Invocation {
  const args = [OUR_CLI, 'download', torrent, '-o', dir, '--state-dir', join(dir, OUR_STATE_DIR), '--quiet'];
  if (peer !== undefined) args.push('--peer', peer);
  args.push(...ourLoopbackOnly('download'));
  return { command: process.execPath, args: [...OUR_NODE_FLAGS, ...args] };
}

/** Our CLI creating a .torrent of `path` (same options as mktorrent's run: no date, one tracker). */
export function ourCreate(path: string, out: string, pieceLength: number, announce: string): Invocation {
  const args = [OUR_CLI, 'create', path, '-o', out, '--piece-length', String(pieceLength), '--announce', announce, '--no-date'];
  return { command: process.execPath, args: [...OUR_NODE_FLAGS, ...args] };
}

export function libtorrentDownload(torrent: string, dir: string, source: { peer: string } | 'web seeds'): Invocation {
  const args = [supportScript('lt_bench.py'), 'download', torrent, dir];
  args.push(...(source === 'web seeds' ? ['--web-seeds'] : ['--peer', source.peer]));
  return { command: DEBIAN_PYTHON, args };
}

export function webtorrentDownload(torrent: string, dir: string, peer: string): Invocation {
  return { command: process.execPath, args: [WEBTORRENT_DRIVER, torrent, dir, peer] };
}

/** aria2 with every peer source off, so the torrent's url-list (BEP 19) is its only way to the data. */
export function aria2Download(torrent: string, dir: string): Invocation {
  const args = [
    '--enable-dht=false',
    '--enable-dht6=false',
    '--bt-enable-lpd=false',
    '--enable-peer-exchange=false',
    '--interface=127.0.0.1',
    '--seed-time=0',
    '--check-integrity=true',
    '--summary-interval=0',
    '--console-log-level=warn',
    '--download-result=hide',
    '-d',
    dir,
    torrent,
  ];
  return { command: 'aria2c', args };
}

export function curlDownload(url: string, file: string): Invocation {
  return { command: 'curl', args: ['--silent', '--show-error', '--fail', '--output', file, url] };
}

/** null when WebTorrent can be loaded, else why not (it is an optional dev dependency). */
export function webtorrentMissing(): string | null {
  try {
    createRequire(import.meta.url).resolve('webtorrent');
    return null;
  } catch (error) {
    return (error as Error).message.split('\n')[0];
  }
}

/** Printed under tables with libtorrent in them, since its peak RSS is not comparable as it stands. */
export const LIBTORRENT_RSS_NOTE =
  'note: libtorrent 2.0 reads and writes through mmap, so its RSS also counts the file pages it touched';

/** A seeder that is listening on 127.0.0.1:`port` and has finished checking its data. */
export interface Seeder {
  service: Service;
  port: number;
}

/** python3-libtorrent seeding the torrent's data from `dir`. */
export async function startLibtorrentSeeder(torrent: string, dir: string): Promise<Seeder> {
  const service = startService('libtorrent seeder', DEBIAN_PYTHON, [supportScript('lt_bench.py'), 'seed', torrent, dir]);
  try {
    const port = Number((await service.waitForLine(/^LISTEN (\d+)$/, SEEDER_START_MS))[1]);
    await service.waitForLine(/^SEEDING$/, SEEDER_START_MS);
    return { service, port };
  } catch (error) {
    await service.stop();
    throw error;
  }
}

/**
 * Our `seed` command serving `dir`, keeping its resume data in `stateDir`. It announces no readiness
 * line, so "ready" means: accepts TCP connections and has gone idle (done checking the data).
 */
export async function startOurSeeder(torrent: string, dir: string, stateDir: string): Promise<Seeder> {
  const port = await freePort();
  const args = [OUR_CLI, 'seed', torrent, '-d', dir, '--port', String(port), '--state-dir', stateDir, '--quiet'];
  args.push(...ourLoopbackOnly('seed'));
  const service = startService('torrent.ts seeder', process.execPath, [...OUR_NODE_FLAGS, ...args]);
  try {
    await waitUntilListening(port, SEEDER_START_MS, service);
    await waitUntilIdle(service.pid, SEEDER_START_MS);
    return { service, port };
  } catch (error) {
    await service.stop();
    throw new Error(`torrent.ts seeder did not get ready: ${(error as Error).message}`, { cause: error });
  }
}
