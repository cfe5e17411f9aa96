/** The measured download loop shared by bench/download.ts and bench/webseed.ts. */
import { rm } from 'node:fs/promises';
import type { Invocation } from './clients.js';
import type { BenchConfig } from './config.js';
import { checkCopy, type Payload } from './payload.js';
import { freshDir, runMeasured } from './processes.js';
import { Results, runOrder } from './report.js';

/**
 * Runs every client `config.runs` times (rotating who goes first), each into a fresh empty dir under
 * `workDir` that is deleted after the copy was checked against the payload. A run counts only if the
 * process exits 0 and its copy is byte-identical.
 */
export async function measureDownloads(
  config: BenchConfig,
  payload: Payload,
  workDir: string,
  invocationFor: (client: string, dir: string) => Invocation,
): Promise<Results> {
  const results = new Results(config.clients, payload.bytes, 'downloader process');
  // One unmeasured run of each client first: the server, the page cache and the kernel's free memory are
  // then in the same state for every measured run (on a VM, memory touched for the first time costs far
  // more than memory a deleted copy just gave back, which made first runs slow whoever went first).
  for (const client of config.clients) {
    const dir = freshDir(workDir, `warm-up-${client}`);
    try {
      const { command, args } = invocationFor(client, dir);
      const warmUp = await runMeasured(command, args, config.timeoutS);
      console.log(`  warm-up ${client}: ${warmUp.failure ?? `${warmUp.wallS.toFixed(2)} s`}`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
  for (let run = 1; run <= config.runs; run++) {
    for (const client of runOrder(config.clients, run - 1)) {
      const dir = freshDir(workDir, `download-${client}`);
      try {
        const { command, args } = invocationFor(client, dir);
        const measured = await runMeasured(command, args, config.timeoutS);
        const problem = measured.failure ?? (await checkCopy(payload, dir));
        if (problem === null) {
          results.add(client, run, measured);
        } else {
          results.fail(client, run, problem);
        }
      } catch (error) {
        results.fail(client, run, (error as Error).message);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    }
  }
  return results;
}
