/**
 * `torrent demo`: a whole swarm on 127.0.0.1 built from this package alone — our tracker, an in-process
 * seeding Client, and this CLI downloading as a child process — ending with a byte-for-byte comparison.
 * It needs no network beyond loopback and leaves nothing behind (temp folder, tracker and seeder are
 * removed on success, failure and Ctrl-C alike).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createCipheriv, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { createTorrent } from '../creation/index.js';
import type { Metainfo } from '../metainfo/index.js';
import { Client } from '../session/client.js';
import type { Torrent } from '../session/torrent.js';
import { TrackerServer } from '../tracker/server.js';
import { ExitCode } from './failure.js';
import { formatBytes, formatRate } from './units.js';

const MiB = 1024 * 1024;
const HOST = '127.0.0.1';
const SAMPLE_NAME = 'sample';
/** Pseudo-random files (odd sizes on purpose, so files straddle piece boundaries): 32 MiB in all. */
const SAMPLE_FILES: { path: string[]; size: number }[] = [
  { path: ['media', 'clip.bin'], size: 18 * MiB },
  { path: ['media', 'stills', 'frame-1.bin'], size: 5 * MiB + 4321 },
  { path: ['media', 'stills', 'frame-2.bin'], size: 5 * MiB - 4321 },
  { path: ['notes.bin'], size: 4 * MiB - 1000 },
];
const README = 'A sample payload made by `torrent demo`: pseudo-random bytes, so no piece repeats.\n';
/** The seeder sends the sample in about this long, so the downloader's progress line has time to show. */
const TARGET_SECONDS = 5;
/** A rate limit lets one second's worth through at once (the token bucket's burst) before it bites. */
const BURST_SECONDS = 1;
/** How long the seeder may take to check its data and reach the tracker. */
const SETUP_TIMEOUT_MS = 15_000;
/** The downloader gives up when it finds no peer for this long. */
const DOWNLOADER_TIMEOUT_SECONDS = 30;
const COMPARE_CHUNK = 4 * MiB;

/** The demo could not show a working transfer; the message says which step failed. */
export class DemoError extends Error {
  override name = 'DemoError';
}

class DemoInterrupted extends Error {
  override name = 'DemoInterrupted';
}

/** This CLI's entry point, next to this file (in dist/src/cli/, or the bundle in dist/bundle/cli/). */
const CLI_ENTRY = fileURLToPath(new URL('./main.js', import.meta.url));

/** Runs the demo, narrating to `out`; resolves with the exit code (0 when every byte arrived intact). */
export async function runDemo(out: NodeJS.WritableStream): Promise<number> {
  const say = (line = '') => out.write(`${line}\n`);
  const interrupt = new AbortController();
  const onSignal = () => interrupt.abort(new DemoInterrupted('interrupted'));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const work = await mkdtemp(join(tmpdir(), 'torrent-ts-demo-'));
  let tracker: TrackerServer | undefined;
  let seeder: Client | undefined;
  let downloader: ChildProcess | undefined;
  try {
    const signal = interrupt.signal;
    say(`torrent demo: a tracker, a seeder and a downloader, all on ${HOST}, in ${work}`);
    const sampleDir = join(work, SAMPLE_NAME);
    await writeSample(sampleDir, signal);

    tracker = await TrackerServer.start({ host: HOST });
    const { torrent, meta } = await createTorrent(sampleDir, {
      announce: [tracker.httpUrl],
      comment: 'torrent.ts offline demo',
      signal,
    });
    const torrentPath = join(work, `${SAMPLE_NAME}.torrent`);
    await writeFile(torrentPath, torrent);
    const files = meta.files.filter((f) => !f.padding);
    say(`  payload     ${SAMPLE_NAME}/: ${files.length} files, ${formatBytes(meta.totalLength)} of pseudo-random bytes`);
    say(`  torrent     ${meta.pieceCount} pieces of ${formatBytes(meta.pieceLength)}, info-hash ${meta.infoHashHex}`);
    say(`  tracker     ${tracker.httpUrl}`);

    const uploadLimit = Math.round(meta.totalLength / (TARGET_SECONDS + BURST_SECONDS));
    seeder = new Client({ port: 0, listenHost: HOST, stateDir: join(work, 'seeder-state'), uploadLimit });
    const seeding = await seeder.add(torrent, { path: work });
    await untilSeedingAndAnnounced(seeding, tracker, meta, signal);
    const seederAddress = `${HOST}:${seeder.port}`;
    say(`  seeder      ${seederAddress} (this process, uploads limited to ${formatRate(uploadLimit)})`);

    const downloadDir = join(work, 'download');
    const args = [
      'download', torrentPath, '-o', downloadDir, '--port', '0', '--listen-host', HOST,
      '--state-dir', join(work, 'downloader-state'), '--timeout', String(DOWNLOADER_TIMEOUT_SECONDS),
    ];
    say(`  downloader  torrent ${args.join(' ')}`);
    say();
    const startedAt = performance.now();
    downloader = spawn(process.execPath, [CLI_ENTRY, ...args], { stdio: 'inherit' });
    const exitCode = await exitOf(downloader, signal);
    const seconds = (performance.now() - startedAt) / 1000;
    if (exitCode !== 0) throw new DemoError(`the downloader exited with code ${exitCode}; see its message above`);

    const compared = await compareFiles(meta, work, downloadDir, signal);
    const uploaded = seeding.stats().uploaded;
    say();
    say(`demo complete: ${formatBytes(meta.totalLength)} downloaded in ${seconds.toFixed(1)} s (${formatRate(meta.totalLength / seconds)})`);
    say(`  the downloader found the seeder ${seederAddress} through the tracker ${tracker.httpUrl}`);
    say(`  the seeder uploaded ${formatBytes(uploaded)}`);
    say(`  every byte identical: ${files.length} files, ${compared} bytes compared with the originals`);
    return ExitCode.ok;
  } catch (err) {
    if (!(err instanceof DemoInterrupted)) throw err;
    say('demo interrupted; cleaning up');
    return ExitCode.interrupted;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    if (downloader?.pid !== undefined && downloader.exitCode === null && downloader.signalCode === null) {
      downloader.kill('SIGTERM');
      await new Promise((resolve) => downloader!.once('exit', resolve));
    }
    await seeder?.destroy();
    await tracker?.close();
    await rm(work, { recursive: true, force: true });
  }
}

/** Writes the sample folder: a short README and AES-CTR keystream files (random-looking, generated fast). */
async function writeSample(dir: string, signal: AbortSignal): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'README.txt'), README);
  const zeros = Buffer.alloc(COMPARE_CHUNK);
  for (const file of SAMPLE_FILES) {
    const path = join(dir, ...file.path);
    await mkdir(dirname(path), { recursive: true });
    const cipher = createCipheriv('aes-128-ctr', randomBytes(16), randomBytes(16));
    const handle = await open(path, 'w');
    try {
      for (let written = 0; written < file.size; written += zeros.length) {
        signal.throwIfAborted();
        await handle.write(cipher.update(zeros.subarray(0, Math.min(zeros.length, file.size - written))));
      }
    } finally {
      await handle.close();
    }
  }
}

/** Waits until the seeder has checked its data and the tracker lists it, so the downloader's first announce finds it. */
async function untilSeedingAndAnnounced(torrent: Torrent, tracker: TrackerServer, meta: Metainfo, signal: AbortSignal): Promise<void> {
  const deadline = Date.now() + SETUP_TIMEOUT_MS;
  while (torrent.state.status !== 'seeding' || tracker.swarmSize(meta.infoHash) === 0) {
    signal.throwIfAborted();
    const state = torrent.state;
    if (state.status === 'error') throw new DemoError(`the seeder failed: ${state.error.message}`, { cause: state.error });
    if (Date.now() > deadline) {
      throw new DemoError(`the seeder was not seeding and listed by ${tracker.httpUrl} within ${SETUP_TIMEOUT_MS / 1000} s`);
    }
    await sleep(50);
  }
}

function aborted(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    if (signal.aborted) reject(signal.reason);
    signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });
}

/** The child's exit code; on interruption the child is stopped (it saves its resume data) first. */
async function exitOf(child: ChildProcess, signal: AbortSignal): Promise<number> {
  const exited = new Promise<number>((resolve, reject) => {
    child.once('error', (err) => reject(new DemoError(`cannot start the downloader: ${err.message}`, { cause: err })));
    child.once('exit', (code, killedBy) => resolve(code ?? (killedBy ? 128 : 1)));
  });
  try {
    return await Promise.race([exited, aborted(signal)]);
  } catch (err) {
    if (err instanceof DemoInterrupted) {
      // From a terminal, Ctrl-C reached the child too; from `kill`, only us: pass it on either way.
      child.kill('SIGINT');
      await exited.catch(() => undefined);
    }
    throw err;
  }
}

/** Compares every file of the torrent under `expectedRoot` and `actualRoot`; returns the bytes compared. */
async function compareFiles(meta: Metainfo, expectedRoot: string, actualRoot: string, signal: AbortSignal): Promise<number> {
  let compared = 0;
  const a = Buffer.alloc(COMPARE_CHUNK);
  const b = Buffer.alloc(COMPARE_CHUNK);
  for (const file of meta.files) {
    if (file.padding) continue;
    const shown = file.path.join('/');
    const expected = await open(join(expectedRoot, ...file.path), 'r');
    const actual = await open(join(actualRoot, ...file.path), 'r').catch((err: Error) => {
      void expected.close();
      throw new DemoError(`${shown} is missing from the download: ${err.message}`, { cause: err });
    });
    try {
      const size = (await actual.stat()).size;
      if (size !== file.length) throw new DemoError(`${shown} is ${size} bytes in the download, expected ${file.length}`);
      for (let offset = 0; offset < file.length; offset += COMPARE_CHUNK) {
        signal.throwIfAborted();
        const length = Math.min(COMPARE_CHUNK, file.length - offset);
        const [fromExpected, fromActual] = await Promise.all([expected.read(a, 0, length, offset), actual.read(b, 0, length, offset)]);
        if (fromExpected.bytesRead !== length || fromActual.bytesRead !== length || !a.subarray(0, length).equals(b.subarray(0, length))) {
          throw new DemoError(`${shown} differs from the original within bytes ${offset}..${offset + length}`);
        }
        compared += length;
      }
    } finally {
      await Promise.all([expected.close(), actual.close()]);
    }
  }
  return compared;
}
