/**
 * Shared by the end-to-end tests: temp folders, random payloads, byte-for-byte comparison, and our CLI run
 * as a child process (killed when the test ends, pass or fail). Everything stays on 127.0.0.1.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { defer as cleanup, runCli as runCliProcess, tempDir } from '../support/swarm-fixture.js';

export const KiB = 1024;
export const MiB = 1024 * KiB;

/** Test cleanups run last registered first; temp folders are removed after the processes that write to them. */
export { cleanup, tempDir };

export interface PayloadFile {
  /** Relative to the payload's parent folder, starting with the payload's name. */
  path: string[];
  data: Buffer;
}

/** Writes random files under `root/name/`; an entry with an empty path is the single file `root/name`. */
export async function writePayload(root: string, name: string, files: { path: string[]; size: number }[]): Promise<PayloadFile[]> {
  const written: PayloadFile[] = [];
  for (const file of files) {
    const path = [name, ...file.path];
    const data = randomBytes(file.size);
    await mkdir(dirname(join(root, ...path)), { recursive: true });
    await writeFile(join(root, ...path), data);
    written.push({ path, data });
  }
  return written;
}

/** Every payload file exists under `root` with exactly the same bytes. */
export async function assertSameFiles(root: string, files: PayloadFile[]): Promise<void> {
  for (const file of files) {
    const actual = await readFile(join(root, ...file.path));
    assert.equal(actual.length, file.data.length, `${file.path.join('/')}: length`);
    assert.ok(actual.equals(file.data), `${file.path.join('/')}: bytes differ`);
  }
}

export interface CliRun {
  child: ChildProcess;
  /** stdout lines so far. */
  lines: string[];
  stderr(): string;
  /** Resolves with the first stdout line (past or future) matching; rejects if the process exits first or on timeout. */
  waitForLine(pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray>;
  /** The --json events printed so far. */
  events(): Record<string, unknown>[];
  /** Resolves with the exit code (or the signal's name) once the process has exited. */
  exited: Promise<number | string>;
  /** SIGTERM (SIGKILL after 3 s); resolves once it has exited. */
  stop(): Promise<void>;
}

/** Third-party programs still running, killed as a last resort when the test process exits. */
const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

/** Runs `torrent <args>` as a child process; it is stopped (SIGTERM, then SIGKILL) when the test ends. */
export function runCli(t: TestContext, args: string[]): CliRun {
  const run = runCliProcess(t, args);
  const stop = async () => {
    if (run.child.exitCode !== null || run.child.signalCode !== null) return;
    run.kill('SIGTERM');
    const killer = setTimeout(() => run.kill('SIGKILL'), 3000);
    await run.exited;
    clearTimeout(killer);
  };
  cleanup(t, stop);
  return {
    child: run.child,
    lines: run.stdout,
    stderr: run.stderrText,
    waitForLine: async (pattern, timeoutMs) => (await run.waitForLine(pattern, timeoutMs)).match(pattern)!,
    events: () => run.stdout.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>),
    exited: run.exited.then(({ code, signal }) => code ?? signal ?? -1),
    stop,
  };
}

/** Common flags so a CLI transfer stays on loopback and keeps its state in the test's folder. */
export function loopbackFlags(stateDir: string): string[] {
  return ['--port', '0', '--listen-host', '127.0.0.1', '--state-dir', stateDir];
}

/**
 * `torrent seed` as a child process with --json; resolves once it is seeding, with the port from its
 * 'start' event.
 */
export async function startCliSeeder(t: TestContext, torrentPath: string, dir: string, stateDir: string, extra: string[] = []) {
  const cli = runCli(t, ['seed', torrentPath, '-d', dir, ...loopbackFlags(stateDir), '--json', ...extra]);
  const start = JSON.parse((await cli.waitForLine(/"event":"start"/, 20_000)).input!) as { port?: unknown };
  await cli.waitForLine(/"event":"state","state":"seeding"/, 20_000);
  assert.equal(typeof start.port, 'number', `the start event names the port: ${JSON.stringify(start)}`);
  assert.ok((start.port as number) > 0);
  return { cli, port: start.port as number };
}

/** Output kept from a third-party program, for failure messages. */
const OUTPUT_TAIL = 4000;

export interface ProgramRun {
  child: ChildProcess;
  /** The last few thousand characters of its stdout and stderr. */
  output(): string;
  /** Resolves with the exit code (or the signal's name). */
  exited: Promise<number | string>;
}

/** Starts a third-party program (aria2c, transmission-cli); it is killed when the test ends. */
export function startProgram(t: TestContext, command: string, args: string[]): ProgramRun {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  child.once('exit', () => live.delete(child));
  let output = '';
  const keep = (s: string) => (output = (output + s).slice(-OUTPUT_TAIL));
  child.stdout!.setEncoding('utf8').on('data', keep);
  child.stderr!.setEncoding('utf8').on('data', keep);
  const exited = new Promise<number | string>((resolve) => child.once('close', (code, signal) => resolve(code ?? signal ?? -1)));
  cleanup(t, async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGKILL'); // nothing of its state is kept
    await exited;
  });
  return { child, output: () => output, exited };
}

export { freePort } from '../support/ports.js';

/** Polls `condition` every 100 ms until it holds; rejects with `what` after `timeoutMs`. */
export async function until(condition: () => boolean | Promise<boolean>, timeoutMs: number, what: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
