/**
 * Seeding speed and cost: python3-libtorrent downloads the same payload from our `seed` command and from a
 * python3-libtorrent seeder, on 127.0.0.1 (`node dist/bench/seed.js`).
 *
 *   BENCH_SIZE_MIB   payload size (default 1024)
 *   BENCH_RUNS       runs of each seeder, rotating which goes first (default 3)
 *   BENCH_CLIENTS    subset of ours,libtorrent (default both)
 *   BENCH_TIMEOUT_S  a download taking longer fails (default max(120, size/2))
 *
 * Each run starts a fresh seeder and waits until it is ready (listening, data checked). From then until
 * the downloader exits, the SEEDER's CPU (utime+stime from /proc/<pid>/stat) and peak RSS (VmHWM, reset
 * when it got ready) are measured; MiB/s is the downloader's wall time from start to verified completion.
 */
import {
  LIBTORRENT_RSS_NOTE,
  libtorrentDownload,
  type Seeder,
  startLibtorrentSeeder,
  startOurSeeder,
} from './support/clients.js';
import { readConfig } from './support/config.js';
import { checkCopy, makeSeedPayload, type Payload } from './support/payload.js';
import { cpuSeconds, peakRssKiB, resetPeakRss } from './support/proc-usage.js';
import { freshDir, makeTempDir, removeTempDir, runMeasured } from './support/processes.js';
import { Results, runOrder, type Sample } from './support/report.js';

const CLIENTS = ['ours', 'libtorrent'] as const;

/** Set when VmHWM could not be reset, so the peak RSS column also covers start-up. */
let peakIncludesStartup = false;

/**
 * One download from a ready `seeder`: the downloader's wall time, and the seeder's CPU and peak RSS over
 * it. Throws, with the reason, if the download fails, its copy differs, or the seeder dies.
 */
async function measureSeeder(
  seeder: Seeder,
  torrent: string,
  payload: Payload,
  dir: string,
  timeoutS: number,
): Promise<Sample> {
  const { service } = seeder;
  const pid = service.pid;
  if (!resetPeakRss(pid)) peakIncludesStartup = true;
  const cpuBefore = cpuSeconds(pid);
  // A seeder that dies mid-run would leave the downloader waiting until the timeout.
  const seederDied = new AbortController();
  const onSeederExit = () =>
    seederDied.abort(`the seeder exited (${service.child.exitCode ?? service.child.signalCode})${service.recentOutput()}`);
  service.child.once('exit', onSeederExit);
  try {
    const { command, args } = libtorrentDownload(torrent, dir, { peer: `127.0.0.1:${seeder.port}` });
    const download = await runMeasured(command, args, timeoutS, seederDied.signal);
    const sample = { wallS: download.wallS, cpuS: cpuSeconds(pid) - cpuBefore, peakRssKiB: peakRssKiB(pid) };
    const problem = download.failure ?? (await checkCopy(payload, dir));
    if (problem !== null) throw new Error(`download from it: ${problem}`);
    return sample;
  } finally {
    service.child.off('exit', onSeederExit);
  }
}

async function main(): Promise<void> {
  const config = readConfig(CLIENTS, { sizeMiB: 1024 });
  const work = await makeTempDir('torrent-ts-bench-seed-');
  try {
    const { seedDir, torrent, payload } = await makeSeedPayload(work, config.sizeMiB);
    console.log(`${config.runs} runs of each seeder (${config.clients.join(', ')}), python3-libtorrent downloading`);

    // Our seeder's resume data goes into a fresh folder each run, so each run starts alike.
    const startSeeder = (client: string, stateDir: string): Promise<Seeder> =>
      client === 'ours' ? startOurSeeder(torrent, seedDir, stateDir) : startLibtorrentSeeder(torrent, seedDir);
    const results = new Results(config.clients, payload.bytes, 'seeder process, from ready to download done');
    /** One download from a fresh seeder of `client`: its measurement, or why it failed. */
    const seedOnce = async (client: string): Promise<Sample | Error> => {
      const dir = freshDir(work, `download-from-${client}`);
      const stateDir = freshDir(work, `seeder-state-${client}`);
      let seeder: Seeder | undefined;
      try {
        seeder = await startSeeder(client, stateDir);
        return await measureSeeder(seeder, torrent, payload, dir, config.timeoutS);
      } catch (error) {
        return error as Error;
      } finally {
        await seeder?.service.stop();
        await removeTempDir(dir);
        await removeTempDir(stateDir);
      }
    };
    // One unmeasured run of each seeder first, as in bench/support/download-runs.ts.
    for (const client of config.clients) {
      const warmUp = await seedOnce(client);
      console.log(`  warm-up ${client}: ${warmUp instanceof Error ? warmUp.message : `${warmUp.wallS.toFixed(2)} s`}`);
    }
    for (let run = 1; run <= config.runs; run++) {
      for (const client of runOrder(config.clients, run - 1)) {
        const sample = await seedOnce(client);
        if (sample instanceof Error) results.fail(client, run, sample.message);
        else results.add(client, run, sample);
      }
    }
    const ratios: Array<[string, string]> = config.clients.length === 2 ? [['ours', 'libtorrent']] : [];
    results.print(`seed ${config.sizeMiB} MiB to a python3-libtorrent downloader on 127.0.0.1`, ratios);
    if (config.clients.includes('libtorrent')) console.log(LIBTORRENT_RSS_NOTE);
    if (peakIncludesStartup) {
      console.log('note: could not reset VmHWM (needs Linux >= 4.0 and ptrace rights): RSS includes start-up');
    }
    if (results.failed) process.exitCode = 1;
  } finally {
    await removeTempDir(work);
  }
}

await main();
