/**
 * CPU time and peak memory of a long-running process (a seeder) over a window of its life, read from
 * Linux's /proc. measure.py's wait4() only reports a process's whole life, at its exit.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';

const CLOCK_TICKS_PER_SECOND = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());

/** utime + stime of every thread of `pid` so far, in seconds (proc(5): fields 14 and 15 of stat). */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) is in parentheses and may contain spaces: split after its closing one.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return (utime + stime) / CLOCK_TICKS_PER_SECOND;
}

/** VmHWM: the peak resident set size, in KiB, since the process started or since resetPeakRss. */
export function peakRssKiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = status.match(/^VmHWM:\s+(\d+) kB$/m);
  if (!match) throw new Error(`no VmHWM in /proc/${pid}/status`);
  return Number(match[1]);
}

/**
 * Resets VmHWM to the current RSS (writing 5 to clear_refs, Linux ≥ 4.0), so a peak measured afterwards
 * belongs to the window being measured rather than to start-up. False when not permitted.
 */
export function resetPeakRss(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/**
 * Resolves once `pid` has used less than `idleFraction` of a core over two consecutive `sampleMs`
 * windows: a seeder that listens may still be checking its data, and that work is not seeding.
 */
export async function waitUntilIdle(pid: number, timeoutMs: number, sampleMs = 250, idleFraction = 0.05): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let quietWindows = 0;
  let previous = cpuSeconds(pid);
  while (quietWindows < 2) {
    if (Date.now() > deadline) throw new Error(`process ${pid} still busy after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, sampleMs));
    const now = cpuSeconds(pid);
    quietWindows = now - previous < (idleFraction * sampleMs) / 1000 ? quietWindows + 1 : 0;
    previous = now;
  }
}
