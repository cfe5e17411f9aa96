/**
 * Shared by the web seed end-to-end tests: payloads whose names need percent-encoding, torrents made by
 * src/creation pointing at a real HTTP server on 127.0.0.1, downloads through the library Client or the
 * built CLI, and byte-for-byte comparison of what landed on disk.
 */
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createTorrent } from '../../src/creation/index.js';
import type { Metainfo } from '../../src/metainfo/index.js';
import { Client, type ClientOptions } from '../../src/session/client.js';
import type { Torrent, TorrentOptions, TorrentStats } from '../../src/session/torrent.js';
import { loadResume } from '../../src/storage/index.js';

/** dist/test/e2e/ → dist/bundle/cli/main.js, the `torrent` command */
export const CLI = fileURLToPath(new URL('../../bundle/cli/main.js', import.meta.url));

export const PIECE_LENGTH = 32 * 1024;

/** A file name with a space, '+', '#' and non-ASCII letters: every one must be percent-encoded for the URL. */
export const SINGLE_NAME = 'web seed + #1 ünïcødé.bin';
/** A folder and files whose names need encoding, nested one level, with sizes that straddle piece boundaries. */
export const MULTI_NAME = 'Mixed + Set #2 – ñ';
export const MULTI_FILES: { path: string[]; length: number }[] = [
  { path: ['a b.txt'], length: 300_001 },
  { path: ['c+d#e.bin'], length: 1_048_576 + 7 },
  { path: ['sub dir', 'ünï cödé 文件.dat'], length: 1_500_000 },
  { path: ['sub dir', '100% done?.log'], length: 77_777 },
  { path: ['empty'], length: 0 },
  { path: ['z-last.bin'], length: 400_000 },
];

export interface Payload {
  /** The served folder: holds the single file, or the torrent's folder. */
  root: string;
  /** The torrent's name (file or folder name below root). */
  name: string;
  /** Every file's path below root, with its bytes. */
  files: Map<string, Buffer>;
}

export interface Workspace {
  dir: string;
  /** A new empty folder below the workspace. */
  folder(name: string): Promise<string>;
  /**
   * Runs `cleanup` when the test ends, even on failure: latest first, every one even if another throws, and
   * all before the folder is removed (a Client still running would write resume data into it meanwhile).
   */
  defer(cleanup: () => unknown): void;
}

export async function workspace(t: TestContext): Promise<Workspace> {
  const dir = await mkdtemp(join(tmpdir(), 'torrent-ts-e2e-webseed-'));
  const cleanups: (() => unknown)[] = [];
  // One hook: node:test runs hooks first-registered first and skips the rest after one throws.
  t.after(async () => {
    const failures: unknown[] = [];
    for (const cleanup of cleanups.reverse()) {
      try {
        await cleanup();
      } catch (err) {
        failures.push(err);
      }
    }
    await rm(dir, { recursive: true, force: true, maxRetries: 3 });
    if (failures.length > 0) throw failures[0];
  });
  return {
    dir,
    defer: (cleanup) => cleanups.push(cleanup),
    async folder(name) {
      const path = join(dir, name);
      await mkdir(path, { recursive: true });
      return path;
    },
  };
}

export async function singleFilePayload(root: string, length = 3_000_000 + 123): Promise<Payload> {
  const data = randomBytes(length);
  await writeFile(join(root, SINGLE_NAME), data);
  return { root, name: SINGLE_NAME, files: new Map([[SINGLE_NAME, data]]) };
}

export async function multiFilePayload(root: string): Promise<Payload> {
  const files = new Map<string, Buffer>();
  for (const spec of MULTI_FILES) {
    const data = randomBytes(spec.length);
    const path = join(MULTI_NAME, ...spec.path);
    await mkdir(dirname(join(root, path)), { recursive: true });
    await writeFile(join(root, path), data);
    files.set(path, data);
  }
  return { root, name: MULTI_NAME, files };
}

/** A copy of the payload's served folder, to be damaged for one misbehaving mirror. */
export async function copyServedFolder(payload: Payload, to: string): Promise<string> {
  await cp(payload.root, to, { recursive: true });
  return to;
}

export interface MadeTorrent {
  path: string;
  bytes: Uint8Array;
  meta: Metainfo;
}

/** A trackerless torrent of the payload with `webSeeds` as its url-list, written to `dir`. */
export async function makeTorrent(payload: Payload, webSeeds: string[], dir: string): Promise<MadeTorrent> {
  const created = await createTorrent(join(payload.root, payload.name), { webSeeds, pieceLength: PIECE_LENGTH, noDate: true });
  const path = join(dir, 'payload.torrent');
  await writeFile(path, created.torrent);
  return { path, bytes: created.torrent, meta: created.meta };
}

/** Every file below `dir`, by path relative to it. */
async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => relative(dir, join(e.parentPath, e.name))).sort();
}

/** `dir` holds exactly the payload's files with exactly their bytes. */
export async function assertSameFiles(dir: string, payload: Payload): Promise<void> {
  assert.deepEqual(await listFiles(dir), [...payload.files.keys()].sort());
  for (const [path, data] of payload.files) {
    const got = await readFile(join(dir, path));
    assert.equal(got.length, data.length, `${path}: length`);
    assert.ok(got.equals(data), `${path}: content differs`);
  }
}

/** Rejects after `ms` with `what` in the message; the timer never keeps the process alive. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms);
    timer.unref();
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export interface LibraryDownload {
  client: Client;
  torrent: Torrent;
  warnings: string[];
  stateDir: string;
}

/** Adds the torrent to a new Client on 127.0.0.1 (no trackers); the client is destroyed when the test ends. */
export async function startLibraryDownload(
  ws: Workspace,
  source: Uint8Array | string,
  out: string,
  options: Omit<TorrentOptions, 'path'> = {},
  clientOptions: ClientOptions = {},
): Promise<LibraryDownload> {
  const stateDir = await ws.folder(`state-${Math.random().toString(36).slice(2)}`);
  const client = new Client({ port: 0, listenHost: '127.0.0.1', stateDir, ...clientOptions });
  ws.defer(() => client.destroy());
  const torrent = await client.add(source, { path: out, trackers: false, ...options });
  const warnings: string[] = [];
  torrent.on('warning', (m) => warnings.push(m));
  return { client, torrent, warnings, stateDir };
}

/** Waits until `predicate` holds for one of the warnings so far or to come. */
export function warningMatching(torrent: Torrent, warnings: string[], pattern: RegExp): Promise<string> {
  const earlier = warnings.find((w) => pattern.test(w));
  if (earlier !== undefined) return Promise.resolve(earlier);
  return new Promise((resolve) => {
    const listener = (m: string) => {
      if (!pattern.test(m)) return;
      torrent.off('warning', listener);
      resolve(m);
    };
    torrent.on('warning', listener);
  });
}

/** `torrent download` arguments for a run on 127.0.0.1 with JSON output and its own state folder. */
export function cliDownload(torrentPath: string, out: string, stateDir: string): string[] {
  return ['download', torrentPath, '-o', out, '--port', '0', '--listen-host', '127.0.0.1', '--state-dir', stateDir, '--json'];
}

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
  /** stdout's JSON lines, parsed. */
  events: Record<string, unknown>[];
  durationMs: number;
}

/** Runs the built CLI to its end (killed after `timeoutMs`, which fails the test). */
export function runCli(args: string[], timeoutMs = 60_000): Promise<CliRun> {
  const started = Date.now();
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`torrent ${args.join(' ')} still running after ${timeoutMs} ms\nstdout:\n${stdout}\nstderr:\n${stderr}`));
    }, timeoutMs);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      const events = stdout
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as Record<string, unknown>);
      resolve({ code, stdout, stderr, events, durationMs: Date.now() - started });
    });
  });
}

/** The last `progress` event of a --json run: the CLI's final word on where the bytes came from. */
export function lastProgress(run: CliRun): TorrentStats {
  const progress = run.events.filter((e) => e.event === 'progress');
  assert.ok(progress.length > 0, `no progress event in:\n${run.stdout}`);
  return progress.at(-1) as unknown as TorrentStats;
}

/**
 * The pieces the resume data trusts as verified, each checked against the torrent's hash using the bytes
 * now on disk: returns how many are trusted and how many of those are in fact wrong.
 */
export async function auditResume(stateDir: string, meta: Metainfo, dir: string): Promise<{ trusted: number; wrong: number }> {
  const resume = await loadResume(stateDir, meta, dir);
  if (!resume) return { trusted: 0, wrong: 0 };
  const disk = await readTorrentBytes(meta, dir);
  let wrong = 0;
  for (const piece of resume.trusted.indices()) {
    const data = disk.subarray(piece * meta.pieceLength, Math.min(meta.totalLength, (piece + 1) * meta.pieceLength));
    const hash = createHash('sha1').update(data).digest();
    if (!hash.equals(meta.pieceHashes.subarray(piece * 20, piece * 20 + 20))) wrong++;
  }
  return { trusted: resume.trusted.count, wrong };
}

/** The torrent's concatenated data as on disk under `dir` (missing files and short files read as zeros). */
async function readTorrentBytes(meta: Metainfo, dir: string): Promise<Buffer> {
  const out = Buffer.alloc(meta.totalLength);
  for (const file of meta.files) {
    if (file.padding) continue;
    const data = await readFile(join(dir, ...file.path)).catch(() => Buffer.alloc(0));
    data.copy(out, file.offset, 0, Math.min(data.length, file.length));
  }
  return out;
}
