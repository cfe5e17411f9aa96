/**
 * The rate limits, end to end and against a real peer: `--limit-down` while downloading from an unlimited
 * python3-libtorrent seeder, and `--limit-up` while an unlimited libtorrent downloader takes all it can
 * from our seeder. Each must hold within ±15 % over a 5 s window (after the bucket's initial burst).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createTorrent } from '../../src/creation/index.js';
import { needLibtorrent } from '../support/interop.js';
import { startLibtorrentDownloader, startLibtorrentSeeder } from '../support/libtorrent.js';
import { assertSameFiles, cleanup, KiB, loopbackFlags, MiB, runCli, startCliSeeder, tempDir, until, writePayload, type CliRun } from './seed-harness.js';

const LIMIT = MiB;
const TOLERANCE = 0.15;
const WINDOW_MS = 5_000;
/** Measuring starts this long after the first byte moved: the token bucket lets one second's worth through at once. */
const SETTLE_MS = 1_000;
/**
 * Enough to outlast, at the limit, the burst (1 s), the first progress event (up to 1 s late), the settling
 * time, the window and the spacing of progress events (1 s), with 2 s to spare.
 */
const PAYLOAD_SIZE = 11 * MiB;

interface Sample {
  at: number;
  bytes: number;
}

/** The --json progress events' `field`, with the time each event's stats were taken. */
function samplesOf(cli: CliRun, field: 'downloadedFromPeers' | 'uploaded'): Sample[] {
  return cli
    .events()
    .filter((e) => e.event === 'progress')
    .map((e) => ({ at: Date.parse(String(e.time)), bytes: Number(e[field]) }));
}

/**
 * Rate over the first WINDOW_MS-long span of samples that starts SETTLE_MS after the bytes first moved;
 * the span must end while the transfer is still going, or idle time would count.
 */
function measuredRate(samples: Sample[]): { rate: number; from: Sample; to: Sample } {
  const moving = samples.find((s) => s.bytes > 0);
  assert.ok(moving, `no bytes moved: ${JSON.stringify(samples)}`);
  const from = samples.find((s) => s.at >= moving.at + SETTLE_MS);
  const to = from && samples.find((s) => s.at >= from.at + WINDOW_MS);
  assert.ok(from && to && to.bytes < PAYLOAD_SIZE, `the transfer ended before a ${WINDOW_MS} ms window: ${JSON.stringify(samples)}`);
  return { rate: ((to.bytes - from.bytes) * 1000) / (to.at - from.at), from, to };
}

function assertNear(rate: number, limit: number, what: string): void {
  assert.ok(Math.abs(rate - limit) <= TOLERANCE * limit, `${what}: ${(rate / KiB).toFixed(0)} KiB/s, limit ${(limit / KiB).toFixed(0)} KiB/s (±${TOLERANCE * 100} %)`);
}

async function makeTorrent(root: string) {
  const files = await writePayload(root, 'limited.bin', [{ path: [], size: PAYLOAD_SIZE }]);
  const { torrent } = await createTorrent(join(root, 'limited.bin'), { pieceLength: 64 * KiB, noDate: true });
  const torrentPath = join(root, 'limited.torrent');
  await writeFile(torrentPath, torrent);
  return { files, torrentPath };
}

test('--limit-down 1M holds within 15 % while downloading from an unlimited libtorrent seeder', { skip: needLibtorrent(), timeout: 60_000 }, async (t) => {
  const root = await tempDir(t, 'limit-down');
  const { files, torrentPath } = await makeTorrent(root);
  const seeder = await startLibtorrentSeeder(torrentPath, root);
  cleanup(t, () => seeder.stop());

  const downloadDir = join(root, 'download');
  const download = runCli(t, [
    'download', torrentPath, '-o', downloadDir, '--peer', `127.0.0.1:${seeder.port}`, '--limit-down', '1M', '--json',
    ...loopbackFlags(join(root, 'state')),
  ]);
  assert.equal(await download.exited, 0, download.stderr());
  await assertSameFiles(downloadDir, files);
  const { rate, from, to } = measuredRate(samplesOf(download, 'downloadedFromPeers'));
  t.diagnostic(`download rate ${(rate / KiB).toFixed(0)} KiB/s from ${JSON.stringify(from)} to ${JSON.stringify(to)}`);
  assertNear(rate, LIMIT, 'download rate');
});

test('--limit-up 1M holds within 15 % while an unlimited libtorrent downloader takes all it can', { skip: needLibtorrent(), timeout: 60_000 }, async (t) => {
  const root = await tempDir(t, 'limit-up');
  const { files, torrentPath } = await makeTorrent(root);
  const { cli: seeder, port } = await startCliSeeder(t, torrentPath, root, join(root, 'state'), ['--limit-up', '1M']);

  const downloadDir = join(root, 'libtorrent');
  const downloader = startLibtorrentDownloader(torrentPath, downloadDir, { peers: [`127.0.0.1:${port}`], doneTimeoutMs: 40_000 });
  cleanup(t, () => downloader.stop());
  await downloader.done;
  await assertSameFiles(downloadDir, files);
  // The seeder prints its stats once a second: wait for the one that shows the transfer over.
  await until(() => samplesOf(seeder, 'uploaded').some((s) => s.bytes >= PAYLOAD_SIZE), 5_000, () => 'the seeder to report the upload');
  const { rate, from, to } = measuredRate(samplesOf(seeder, 'uploaded'));
  t.diagnostic(`upload rate ${(rate / KiB).toFixed(0)} KiB/s from ${JSON.stringify(from)} to ${JSON.stringify(to)}`);
  assertNear(rate, LIMIT, 'upload rate');
});
