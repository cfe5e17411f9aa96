/**
 * Download speed and cost: our CLI, python3-libtorrent and WebTorrent each fetch the same payload from one
 * python3-libtorrent seeder on 127.0.0.1 (`npm run bench`).
 *
 *   BENCH_SIZE_MIB   payload size (default 1024)
 *   BENCH_RUNS       runs of each client, rotating which goes first (default 3)
 *   BENCH_CLIENTS    subset of ours,libtorrent,webtorrent (default all)
 *   BENCH_TIMEOUT_S  a run taking longer fails (default max(120, size/2))
 *
 * Each run downloads into a fresh empty dir and counts only if the copy is byte-identical. Wall time is
 * from process start to exit after verified completion (so it includes start-up: for libtorrent, its first
 * connection attempt waits for its 1 s tick); CPU (user+sys) and peak RSS are of the downloader process,
 * all measured by bench/support/measure.py. The seeder's data stays in the page cache, the same for all.
 */
import {
  type Invocation,
  LIBTORRENT_RSS_NOTE,
  libtorrentDownload,
  ourDownload,
  startLibtorrentSeeder,
  webtorrentDownload,
  webtorrentMissing,
} from './support/clients.js';
import { readConfig } from './support/config.js';
import { measureDownloads } from './support/download-runs.js';
import { makeSeedPayload } from './support/payload.js';
import { makeTempDir, removeTempDir } from './support/processes.js';

const CLIENTS = ['ours', 'libtorrent', 'webtorrent'] as const;

async function main(): Promise<void> {
  const config = readConfig(CLIENTS, { sizeMiB: 1024 });
  if (config.clients.includes('webtorrent')) {
    const missing = webtorrentMissing();
    if (missing !== null) {
      console.log(`webtorrent not installed: ${missing} (skipping it)`);
      config.clients = config.clients.filter((c) => c !== 'webtorrent');
    }
  }
  if (config.clients.length === 0) throw new Error('no client left to benchmark');

  const work = await makeTempDir('torrent-ts-bench-download-');
  try {
    const { seedDir, torrent, payload } = await makeSeedPayload(work, config.sizeMiB);
    const seeder = await startLibtorrentSeeder(torrent, seedDir);
    const peer = `127.0.0.1:${seeder.port}`;
    console.log(`libtorrent seeding on ${peer}; ${config.runs} runs of ${config.clients.join(', ')}`);
    try {
      const invocationFor = (client: string, dir: string): Invocation => {
        switch (client) {
          case 'ours':
            return ourDownload(torrent, dir, peer);
          case 'libtorrent':
            return libtorrentDownload(torrent, dir, { peer });
          case 'webtorrent':
            return webtorrentDownload(torrent, dir, peer);
          default:
            throw new Error(`unknown client ${client}`);
        }
      };
      const results = await measureDownloads(config, payload, work, invocationFor);
      const ratios = (['libtorrent', 'webtorrent'] as const)
        .filter((other) => config.clients.includes('ours') && config.clients.includes(other))
        .map((other): [string, string] => ['ours', other]);
      results.print(`download ${config.sizeMiB} MiB from a python3-libtorrent seeder on 127.0.0.1`, ratios);
      if (config.clients.includes('libtorrent')) console.log(LIBTORRENT_RSS_NOTE);
      if (results.failed) process.exitCode = 1;
    } finally {
      await seeder.service.stop();
    }
  } finally {
    await removeTempDir(work);
  }
}

await main();
