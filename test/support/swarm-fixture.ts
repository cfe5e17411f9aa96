/**
 * Shared helpers for the end-to-end tests of the download path: payload folders of deterministic bytes,
 * torrents made with src/creation, our CLI run as a child process (the bundled `torrent` command, always with
 * its own --state-dir), and byte-for-byte folder comparison. Everything stays on 127.0.0.1; temp folders and
 * child processes are removed/killed when the test ends, even when it fails.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import readline from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { decode, getDict, getInt, isDict } from '../../src/bencode/index.js';
import { createTorrent, type CreateOptions } from '../../src/creation/index.js';
import type { Metainfo } from '../../src/metainfo/index.js';
import { Client } from '../../src/session/client.js';
import type { Torrent } from '../../src/session/torrent.js';
import { seededRandom } from './seeded-random.js';

/** Per-test deadline for these tests (each takes seconds): a hang fails its own test, not the whole run. */
export const E2E_TIMEOUT_MS = 120_000;

/** This file compiles to dist/test/support/; the `torrent` command is bundled into dist/bundle/cli/main.js. */
export const CLI_MAIN = fileURLToPath(new URL('../../bundle/cli/main.js', import.meta.url));

const liveChildren = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of liveChildren) child.kill('SIGKILL');
});

const cleanups = new WeakMap<TestContext, (() => unknown)[]>();

/**
 * Runs `cleanup` when the test ends, even if it failed. Unlike t.after (first registered, first run), these
 * run last registered first, so processes and clients stop before the folders they write to are removed.
 */
export function defer(t: TestContext, cleanup: () => unknown): void {
  let stack = cleanups.get(t);
  if (!stack) {
    const pending: (() => unknown)[] = [];
    stack = pending;
    cleanups.set(t, pending);
    t.after(async () => {
      const errors: unknown[] = [];
      for (let next = pending.pop(); next; next = pending.pop()) {
        try {
          await next();
        } catch (err) {
          errors.push(err);
        }
      }
      if (errors.length > 0) throw new AggregateError(errors, 'test cleanup failed');
    });
  }
  stack.push(cleanup);
}

/** A fresh temp folder, removed when the test ends. */
export async function tempDir(t: TestContext, label: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `torrent-ts-e2e-${label}-`));
  defer(t, () => rm(dir, { recursive: true, force: true, maxRetries: 3 }));
  return dir;
}

/** Deterministic pseudo-random bytes, so a failing comparison reproduces. */
export function payloadBytes(length: number, seed: number): Buffer {
  const random = seededRandom(seed);
  const out = Buffer.allocUnsafe(length);
  let i = 0;
  for (; i + 4 <= length; i += 4) out.writeUInt32LE(Math.floor(random() * 0x1_0000_0000), i);
  for (; i < length; i++) out[i] = Math.floor(random() * 256);
  return out;
}

/** Relative path ("a/b/c.bin") → size in bytes. */
export type PayloadSpec = Record<string, number>;

/** Writes the files of `spec` under `root` (folders created as needed); returns root. */
export async function writePayload(root: string, spec: PayloadSpec, seed = 1): Promise<string> {
  let n = seed;
  for (const [path, size] of Object.entries(spec)) {
    const full = join(root, ...path.split('/'));
    await mkdir(dirname(full), { recursive: true });
    await writeFile(full, payloadBytes(size, n++));
  }
  return root;
}

export interface MadeTorrent {
  torrentPath: string;
  meta: Metainfo;
}

/** Creates `<outDir>/<name>.torrent` for the file or folder `input` (no creation date: stable bytes). */
export async function makeTorrent(input: string, outDir: string, opts: CreateOptions = {}): Promise<MadeTorrent> {
  const { torrent, meta } = await createTorrent(input, { noDate: true, ...opts });
  const torrentPath = join(outDir, `${meta.name}.torrent`);
  await writeFile(torrentPath, torrent);
  return { torrentPath, meta };
}

/**
 * A seeder-ready layout in one temp folder: `<root>/seed/<name>` holds the payload (a seeder's save path
 * is `<root>/seed`), `<root>/<name>.torrent` the torrent, `<root>/out` is an empty download folder and
 * `<root>/state` a CLI/Client state folder.
 */
export interface Scenario extends MadeTorrent {
  root: string;
  seedDir: string;
  /** The payload: `<seedDir>/<name>` (a file or a folder). */
  original: string;
  outDir: string;
  stateDir: string;
  /** Where the download lands: `<outDir>/<name>`. */
  downloaded: string;
}

/** A single file (`spec` is a number) or a folder of files, with a torrent for it. */
export async function makeScenario(
  t: TestContext,
  name: string,
  spec: number | PayloadSpec,
  opts: CreateOptions & { seed?: number } = {},
): Promise<Scenario> {
  const root = await tempDir(t, name);
  const seedDir = join(root, 'seed');
  const original = join(seedDir, name);
  if (typeof spec === 'number') {
    await mkdir(seedDir);
    await writeFile(original, payloadBytes(spec, opts.seed ?? 1));
  } else {
    await mkdir(original, { recursive: true });
    await writePayload(original, spec, opts.seed ?? 1);
  }
  const { seed: _seed, ...createOpts } = opts;
  const made = await makeTorrent(original, root, createOpts);
  const outDir = join(root, 'out');
  const stateDir = join(root, 'state');
  await mkdir(outDir);
  await mkdir(stateDir);
  return { root, seedDir, original, outDir, stateDir, downloaded: join(outDir, name), ...made };
}

/** Every regular file under `dir` (or `dir` itself if it is a file), as relative path → SHA-1 hex and size. */
export async function fileDigests(dir: string): Promise<Map<string, { size: number; sha1: string }>> {
  const out = new Map<string, { size: number; sha1: string }>();
  const visit = async (path: string) => {
    const s = await stat(path);
    if (s.isDirectory()) {
      for (const entry of await readdir(path)) await visit(join(path, entry));
    } else {
      const data = await readFile(path);
      out.set(relative(dir, path) || '.', { size: data.length, sha1: createHash('sha1').update(data).digest('hex') });
    }
  };
  await visit(dir);
  return out;
}

/** Asserts that `actual` holds exactly the files of `expected` (same names, same bytes, nothing extra). */
export async function assertSameTree(actual: string, expected: string): Promise<void> {
  const [got, want] = await Promise.all([fileDigests(actual), fileDigests(expected)]);
  assert.deepEqual([...got.keys()].sort(), [...want.keys()].sort(), `${actual} should hold the same files as ${expected}`);
  for (const [path, digest] of want) {
    const mine = got.get(path)!;
    assert.equal(mine.size, digest.size, `${path}: size`);
    assert.equal(mine.sha1, digest.sha1, `${path}: content differs from the original`);
  }
  // Hash equality is the check; compare bytes too so a failure message can never hide a collision.
  for (const path of want.keys()) {
    if (path === '.') assert.ok((await readFile(actual)).equals(await readFile(expected)));
    else assert.ok((await readFile(join(actual, path))).equals(await readFile(join(expected, path))), `${path} bytes`);
  }
}

export interface CliRun {
  child: ChildProcess;
  /** stdout lines so far. */
  stdout: string[];
  /** Raw stdout and stderr text so far. */
  stdoutText(): string;
  stderrText(): string;
  /** Resolves when the process exits (never rejects). */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves with the first stdout line (past or future) matching; rejects on exit or timeout. */
  waitForLine(pattern: RegExp | ((line: string) => boolean), timeoutMs?: number): Promise<string>;
  kill(signal?: NodeJS.Signals): void;
}

/**
 * Runs `node dist/bundle/cli/main.js …args` with stdin closed and stdout/stderr piped (so not a TTY). The
 * process is SIGKILLed when the test ends if it is still running.
 */
export function runCli(t: TestContext, args: string[], opts: { cwd?: string } = {}): CliRun {
  const child = spawn(process.execPath, [CLI_MAIN, ...args], { cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  liveChildren.add(child);
  let stdout = '';
  let stderr = '';
  const lines: string[] = [];
  child.stdout!.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const reader = readline.createInterface({ input: child.stdout! });
  reader.on('line', (line) => lines.push(line));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    // 'close' rather than 'exit': every byte of stdout and stderr has been read by then.
    child.once('close', (code, signal) => {
      liveChildren.delete(child);
      resolve({ code, signal });
    }),
  );
  defer(t, async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
  });
  const waitForLine = (pattern: RegExp | ((line: string) => boolean), timeoutMs = 60_000) =>
    new Promise<string>((resolve, reject) => {
      const matches = typeof pattern === 'function' ? pattern : (line: string) => pattern.test(line);
      const earlier = lines.find(matches);
      if (earlier !== undefined) return resolve(earlier);
      const onLine = (line: string) => {
        if (!matches(line)) return;
        cleanup();
        resolve(line);
      };
      const fail = (why: string) => {
        cleanup();
        reject(new Error(`torrent ${args.join(' ')}: ${why}\nstdout:\n${stdout}\nstderr:\n${stderr}`));
      };
      // 'close', not 'exit': lines still buffered in the pipe get their chance to match first.
      const onExit = () => fail(`exited (${child.exitCode ?? child.signalCode}) before a line matching ${pattern}`);
      const timer = setTimeout(() => fail(`no line matching ${pattern} within ${timeoutMs} ms`), timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        reader.off('line', onLine);
        child.off('close', onExit);
      };
      reader.on('line', onLine);
      child.once('close', onExit);
    });
  return {
    child,
    stdout: lines,
    stdoutText: () => stdout,
    stderrText: () => stderr,
    exited,
    waitForLine,
    kill: (signal = 'SIGTERM') => child.kill(signal),
  };
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI to its end; fails the test if it takes longer than `timeoutMs`. */
export async function runCliToEnd(t: TestContext, args: string[], timeoutMs = 60_000): Promise<CliResult> {
  const run = runCli(t, args);
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      run.kill('SIGKILL');
      reject(new Error(`torrent ${args.join(' ')} did not end within ${timeoutMs} ms\nstdout:\n${run.stdoutText()}\nstderr:\n${run.stderrText()}`));
    }, timeoutMs);
  });
  try {
    const { code, signal } = await Promise.race([run.exited, timedOut]);
    return { code, signal, stdout: run.stdoutText(), stderr: run.stderrText() };
  } finally {
    clearTimeout(timer);
  }
}

/** The arguments of `torrent download` for a scenario: own state folder, ephemeral port, loopback only. */
export function downloadArgs(s: Pick<Scenario, 'torrentPath' | 'outDir' | 'stateDir'>, ...extra: string[]): string[] {
  return ['download', s.torrentPath, '-o', s.outDir, '--state-dir', s.stateDir, '--port', '0', '--listen-host', '127.0.0.1', ...extra];
}

/** Parses NDJSON output; throws (failing the test) on any line that is not a JSON object. */
export function parseNdjson(text: string): Record<string, unknown>[] {
  return text
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line, i) => {
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch (err) {
        throw new Error(`line ${i + 1} is not JSON: ${line}`, { cause: err });
      }
      assert.ok(value !== null && typeof value === 'object' && !Array.isArray(value), `line ${i + 1} is not an object: ${line}`);
      return value as Record<string, unknown>;
    });
}

/** A snapshot of a folder's entries (names, types, sizes), to prove nothing was written there. */
export async function listTree(dir: string): Promise<string[]> {
  const out: string[] = [];
  const visit = async (path: string) => {
    for (const entry of await readdir(path, { withFileTypes: true })) {
      const full = join(path, entry.name);
      if (entry.isDirectory()) {
        out.push(`${relative(dir, full)}/`);
        await visit(full);
      } else {
        out.push(`${relative(dir, full)} ${(await stat(full)).size}`);
      }
    }
  };
  await visit(dir);
  return out.sort();
}

/**
 * Polls an HTTP tracker's scrape (BEP 48) until it counts at least `seeders` complete peers for the torrent,
 * so a test does not race a seeder's first announce.
 */
export async function waitForTrackerSeeders(announceUrl: string, infoHash: Uint8Array, seeders = 1, timeoutMs = 20_000): Promise<void> {
  const escaped = [...infoHash].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('');
  const url = `${announceUrl.replace(/\/announce$/, '/scrape')}?info_hash=${escaped}`;
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  while (Date.now() < deadline) {
    try {
      const body = new Uint8Array(await (await fetch(url)).arrayBuffer());
      const doc = decode(body).value;
      const files = isDict(doc) ? getDict(doc, 'files') : undefined;
      const entry = files?.get(Buffer.from(infoHash).toString('latin1'));
      const complete = isDict(entry) ? getInt(entry, 'complete') ?? 0 : 0;
      if (complete >= seeders) return;
      last = `complete=${complete}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await sleep(100);
  }
  throw new Error(`tracker ${announceUrl} did not see ${seeders} seeder(s) within ${timeoutMs} ms (${last})`);
}

/** The last `progress` event of a --json run (the CLI always prints one as it ends). */
export function lastProgress(stdout: string): { downloadedFromPeers: number; verifiedBytes: number; piecesVerified: number; totalBytes: number } {
  const progress = parseNdjson(stdout).filter((e) => e.event === 'progress');
  assert.ok(progress.length > 0, `no progress event in:\n${stdout}`);
  return progress.at(-1) as never;
}

/** An in-process Client on 127.0.0.1 with an ephemeral port and its own state folder, destroyed at test end. */
export function startClient(t: TestContext, stateDir: string): Client {
  const client = new Client({ port: 0, listenHost: '127.0.0.1', stateDir });
  defer(t, () => client.destroy());
  return client;
}

/** Every 'warning' the torrent emits from now on. */
export function collectWarnings(torrent: Torrent): string[] {
  const warnings: string[] = [];
  torrent.on('warning', (m) => warnings.push(m));
  return warnings;
}

/** Waits for `torrent.done`; fails with its stats and warnings if that takes longer than `timeoutMs`. */
export async function waitDone(torrent: Torrent, warnings: string[] = [], timeoutMs = 60_000): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`not done within ${timeoutMs} ms: ${JSON.stringify(torrent.stats())}; warnings: ${warnings.join(' | ')}`)),
      timeoutMs,
    );
  });
  try {
    await Promise.race([torrent.done, late]);
  } finally {
    clearTimeout(timer);
  }
}
