/**
 * Web seed (BEP 19) download speed and cost: nginx serves the payload on 127.0.0.1 and a trackerless
 * torrent names it in its url-list, so the web seed is every client's only source
 * (`node dist/bench/webseed.js`). curl fetching the file directly is the ceiling.
 *
 *   BENCH_SIZE_MIB   payload size (default 1024)
 *   BENCH_RUNS       runs of each client, rotating which goes first (default 3)
 *   BENCH_CLIENTS    subset of ours,libtorrent,aria2,curl (default all)
 *   BENCH_TIMEOUT_S  a run taking longer fails (default max(120, size/2))
 *
 * Measured as in bench/download.ts: wall time to verified completion and the downloader's CPU and peak
 * RSS, by bench/support/measure.py; every copy is compared with the payload.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { startNginx } from '../test/support/nginx.js';
import {
  aria2Download,
  curlDownload,
  type Invocation,
  LIBTORRENT_RSS_NOTE,
  libtorrentDownload,
  ourDownload,
} from './support/clients.js';
import { readConfig } from './support/config.js';
import { measureDownloads } from './support/download-runs.js';
import { createTorrentWithLibtorrent, makePayload, PAYLOAD_NAME } from './support/payload.js';
import { makeTempDir, removeTempDir, stopOnInterrupt } from './support/processes.js';

const CLIENTS = ['ours', 'libtorrent', 'aria2', 'curl'] as const;

async function main(): Promise<void> {
  const config = readConfig(CLIENTS, { sizeMiB: 1024 });
  const work = await makeTempDir('torrent-ts-bench-webseed-');
  try {
    const root = join(work, 'www');
    const torrent = join(work, 'payload.torrent');
    console.log(`writing a ${config.sizeMiB} MiB payload and its .torrent in ${work} ...`);
    await mkdir(root);
    const payload = await makePayload(root, config.sizeMiB);
    const nginx = await startNginx(root);
    const interrupted = stopOnInterrupt(() => nginx.stop());
    try {
      // A url-list entry ending in "/" names a folder: clients append the torrent's name (BEP 19).
      await createTorrentWithLibtorrent(payload.path, torrent, nginx.url);
      console.log(`nginx serving ${nginx.url}; ${config.runs} runs of ${config.clients.join(', ')}`);
      const invocationFor = (client: string, dir: string): Invocation => {
        switch (client) {
          case 'ours':
            return ourDownload(torrent, dir);
          case 'libtorrent':
            return libtorrentDownload(torrent, dir, 'web seeds');
          case 'aria2':
            return aria2Download(torrent, dir);
          case 'curl':
            return curlDownload(nginx.url + PAYLOAD_NAME, join(dir, PAYLOAD_NAME));
          default:
            throw new Error(`unknown client ${client}`);
        }
      };
      const results = await measureDownloads(config, payload, work, invocationFor);
      const ratios = config.clients.includes('libtorrent')
        ? config.clients.filter((c) => c !== 'libtorrent').map((c): [string, string] => [c, 'libtorrent'])
        : [];
      results.print(`download ${config.sizeMiB} MiB from an nginx web seed on 127.0.0.1`, ratios);
      if (config.clients.includes('libtorrent')) console.log(LIBTORRENT_RSS_NOTE);
      if (results.failed) process.exitCode = 1;
    } finally {
      interrupted.dispose();
      await nginx.stop();
    }
  } finally {
    await removeTempDir(work);
  }
}

await main();
