/**
 * Process and temp-dir lifecycle for the benchmarks: every child and temp dir made through this module is
 * removed when the benchmark ends, also on an exception, SIGINT or SIGTERM. Long downloads run under
 * measure.py, which gives every client the same wall/CPU/RSS measurement via wait4().
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';

/** Debian's python, the one python3-libtorrent installs into. */
export const DEBIAN_PYTHON = '/usr/bin/python3';

/** Python helpers stay in bench/support/ (tsc does not copy them); this file runs from dist/bench/support/. */
export function supportScript(name: string): string {
  return fileURLToPath(new URL(`../../../bench/support/${name}`, import.meta.url));
}

const liveChildren = new Set<ChildProcess>();
const tempDirs = new Set<string>();

function killAllSync(): void {
  // SIGTERM: measure.py then kills its command's whole process group; our python services also exit
  // when their stdin closes with us, and node children die with the default SIGTERM action.
  for (const child of liveChildren) child.kill('SIGTERM');
  liveChildren.clear();
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  tempDirs.clear();
}

const stopHooks = new Set<() => Promise<void>>();

/**
 * Runs `stop` if the benchmark is interrupted (SIGINT/SIGTERM) before `dispose` is called: for things
 * started elsewhere (nginx from test/support) that this module does not kill itself.
 */
export function stopOnInterrupt(stop: () => Promise<void>): { dispose(): void } {
  stopHooks.add(stop);
  return { dispose: () => stopHooks.delete(stop) };
}

process.once('exit', killAllSync);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    process.stderr.write(`\nbench: ${signal}, cleaning up\n`);
    const stops = Promise.allSettled([...stopHooks].map((stop) => stop()));
    const atMost = new Promise((resolve) => setTimeout(resolve, 6000));
    void Promise.race([stops, atMost]).finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  });
}

/** A temp dir removed when the benchmark exits (or earlier with removeTempDir). */
export async function makeTempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  tempDirs.add(dir);
  return dir;
}

export async function removeTempDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
  tempDirs.delete(dir);
}

/** A fresh, empty dir inside `parent` (which is already cleaned up), for one run's download. */
export function freshDir(parent: string, name: string): string {
  return mkdtempSync(join(parent, `${name}-`));
}

/** What one measured command cost (see measure.py). */
export interface Measurement {
  wallS: number;
  cpuS: number;
  peakRssKiB: number;
  /** null when it ran fine (exit 0); otherwise why not, with the tail of its output. */
  failure: string | null;
}

const OUTPUT_TAIL = 3000;
const KEPT_LINES = 200;

function keepTail(text: string, more: string): string {
  const joined = text + more;
  return joined.length > OUTPUT_TAIL ? joined.slice(-OUTPUT_TAIL) : joined;
}

function flushDirtyPages(): Promise<void> {
  return new Promise((resolve, reject) => {
    const sync = spawn('sync', [], { stdio: 'ignore' });
    sync.once('error', reject);
    sync.once('close', () => resolve());
  });
}

/**
 * Runs `command args…` to completion under measure.py; kills it after `timeoutS`, or when `abort` fires
 * (then this rejects).
 */
export async function runMeasured(
  command: string,
  args: string[],
  timeoutS: number,
  abort?: AbortSignal,
): Promise<Measurement> {
  const resultDir = await makeTempDir('torrent-ts-bench-measure-');
  // Earlier runs' written data goes to disk now, not in the middle of this run: no client pays for
  // another's writeback.
  await flushDirtyPages();
  try {
    const resultPath = join(resultDir, 'result.json');
    const child = spawn(DEBIAN_PYTHON, [supportScript('measure.py'), resultPath, String(timeoutS), command, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    liveChildren.add(child);
    const onAbort = () => child.kill('SIGTERM'); // measure.py kills the command's process group
    abort?.addEventListener('abort', onAbort);
    let output = '';
    child.stdout!.setEncoding('utf8').on('data', (s: string) => (output = keepTail(output, s)));
    child.stderr!.setEncoding('utf8').on('data', (s: string) => (output = keepTail(output, s)));
    const code = await new Promise<number | null>((resolve, reject) => {
      child.once('error', reject);
      child.once('close', (exitCode) => resolve(exitCode));
    }).finally(() => {
      liveChildren.delete(child);
      abort?.removeEventListener('abort', onAbort);
    });
    if (abort?.aborted) throw new Error(`stopped: ${abort.reason}`);
    if (code !== 0) throw new Error(`measure.py exited ${code}: ${output}`);
    const result = JSON.parse(await readFile(resultPath, 'utf8')) as {
      wall_s: number;
      cpu_s: number;
      max_rss_kib: number;
      exit_code: number | null;
      signal: number | null;
      timed_out: boolean;
    };
    let failure: string | null = null;
    if (result.timed_out) failure = `timed out after ${timeoutS} s`;
    else if (result.exit_code !== 0) failure = `exit ${result.exit_code ?? `signal ${result.signal}`}`;
    if (failure !== null && output.trim() !== '') failure += `; output: ${output.trim()}`;
    return { wallS: result.wall_s, cpuS: result.cpu_s, peakRssKiB: result.max_rss_kib, failure };
  } finally {
    await removeTempDir(resultDir);
  }
}

/** A long-running child (a seeder, a server) whose stdout lines can be awaited. */
export interface Service {
  child: ChildProcess;
  pid: number;
  /** The last stdout lines and stderr, for error messages. */
  recentOutput(): string;
  /** Resolves with the first stdout line (past or future) matching `pattern`. */
  waitForLine(pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray>;
  /** SIGTERM, then SIGKILL after 5 s; resolves when it has exited. Safe to call twice. */
  stop(): Promise<void>;
}

export function startService(name: string, command: string, args: string[]): Service {
  // stdin stays an open pipe: our python helpers exit when it closes, i.e. when the benchmark dies.
  const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  if (child.pid === undefined) throw new Error(`${name}: could not start ${command}`);
  liveChildren.add(child);
  const lines: string[] = [];
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr = keepTail(stderr, s)));
  const reader = readline.createInterface({ input: child.stdout! });
  reader.on('line', (line) => {
    lines.push(line);
    if (lines.length > KEPT_LINES) lines.shift();
  });
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      liveChildren.delete(child);
      resolve();
    }),
  );
  const recentOutput = () => `\nstdout:\n${lines.slice(-20).join('\n')}\nstderr:\n${stderr}`;

  return {
    child,
    pid: child.pid,
    recentOutput,
    waitForLine(pattern, timeoutMs) {
      return new Promise((resolve, reject) => {
        const done = () => {
          clearTimeout(timer);
          reader.off('line', onLine);
          child.off('exit', onExit);
        };
        const onLine = (line: string) => {
          const match = line.match(pattern);
          if (match) {
            done();
            resolve(match);
          }
        };
        const onExit = () => {
          done();
          reject(new Error(`${name} exited (${child.exitCode ?? child.signalCode}) before "${pattern.source}"${recentOutput()}`));
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`${name}: no "${pattern.source}" within ${timeoutMs} ms${recentOutput()}`));
        }, timeoutMs);
        reader.on('line', onLine);
        child.once('exit', onExit);
        const earlier = lines.find((line) => pattern.test(line));
        if (earlier !== undefined) onLine(earlier);
        else if (child.exitCode !== null || child.signalCode !== null) onExit();
      });
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(killer);
    },
  };
}

export { freePort } from '../../test/support/ports.js';

/** Polls until something accepts TCP connections on 127.0.0.1:`port`. */
export async function waitUntilListening(port: number, timeoutMs: number, service: Service): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const accepted = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (accepted) return;
    if (service.child.exitCode !== null || service.child.signalCode !== null) {
      const status = service.child.exitCode ?? service.child.signalCode;
      throw new Error(`exited (${status}) before listening on ${port}${service.recentOutput()}`);
    }
    if (Date.now() > deadline) throw new Error(`nothing listening on 127.0.0.1:${port} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
