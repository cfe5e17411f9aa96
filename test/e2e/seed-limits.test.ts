/**
 * Seeding limits end a CLI run with exit code 0: `download --seed --seed-time`, `download --seed
 * --seed-ratio` (uploading to python3-libtorrent), and `seed --seed-time`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { createTorrent } from '../../src/creation/index.js';
import { Client } from '../../src/session/client.js';
import { needLibtorrent } from '../support/interop.js';
import { startLibtorrentDownloader } from '../support/libtorrent.js';
import { assertSameFiles, cleanup, KiB, loopbackFlags, runCli, tempDir, writePayload } from './seed-harness.js';

async function makeTorrent(root: string) {
  const files = await writePayload(root, 'kept', [
    { path: ['a.bin'], size: 300 * KiB + 17 },
    { path: ['b.bin'], size: 200 * KiB },
  ]);
  const { torrent, meta } = await createTorrent(join(root, 'kept'), { pieceLength: 16 * KiB, noDate: true });
  const torrentPath = join(root, 'kept.torrent');
  await writeFile(torrentPath, torrent);
  return { files, torrentPath, totalLength: meta.totalLength };
}

/** Our library seeding the payload in-process; resolves with its port. */
async function librarySeeder(t: TestContext, root: string, torrentPath: string): Promise<number> {
  const client = new Client({ port: 0, listenHost: '127.0.0.1', stateDir: join(root, 'seeder-state') });
  cleanup(t, () => client.destroy());
  const torrent = await client.add(torrentPath, { path: root });
  await torrent.done;
  return client.port;
}

const eventTime = (events: Record<string, unknown>[], name: string) => {
  const event = events.find((e) => e.event === name);
  assert.ok(event, `no "${name}" event in ${JSON.stringify(events.filter((e) => e.event !== 'progress'))}`);
  return Date.parse(String(event.time));
};

test('download --seed --seed-time 3s seeds for 3 s after completing, then exits 0', { timeout: 30_000 }, async (t) => {
  const root = await tempDir(t, 'seed-time');
  const { files, torrentPath } = await makeTorrent(root);
  const port = await librarySeeder(t, root, torrentPath);
  const downloadDir = join(root, 'download');
  const run = runCli(t, [
    'download', torrentPath, '-o', downloadDir, '--peer', `127.0.0.1:${port}`, '--seed', '--seed-time', '3s', '--json',
    ...loopbackFlags(join(root, 'state')),
  ]);
  assert.equal(await run.exited, 0, run.stderr());
  await assertSameFiles(downloadDir, files);
  const events = run.events();
  const seededMs = eventTime(events, 'seeding-limit') - eventTime(events, 'done');
  assert.ok(seededMs >= 3000, `seeded for only ${seededMs} ms`);
});

test('download --seed --seed-ratio 1 exits 0 once it has uploaded the torrent once', { skip: needLibtorrent(), timeout: 60_000 }, async (t) => {
  const root = await tempDir(t, 'seed-ratio');
  const { files, torrentPath, totalLength } = await makeTorrent(root);
  const port = await librarySeeder(t, root, torrentPath);
  const downloadDir = join(root, 'download');
  const run = runCli(t, [
    'download', torrentPath, '-o', downloadDir, '--peer', `127.0.0.1:${port}`, '--seed', '--seed-ratio', '1', '--json',
    ...loopbackFlags(join(root, 'state')),
  ]);
  const start = JSON.parse((await run.waitForLine(/"event":"start"/, 10_000)).input!) as { port: number };
  // libtorrent knows only our CLI, so everything it gets is what the ratio counts.
  const libtorrentDir = join(root, 'libtorrent');
  const downloader = startLibtorrentDownloader(torrentPath, libtorrentDir, { peers: [`127.0.0.1:${start.port}`] });
  cleanup(t, () => downloader.stop());
  assert.equal(await run.exited, 0, run.stderr());
  await assertSameFiles(downloadDir, files);
  const limit = run.events().find((e) => e.event === 'seeding-limit');
  assert.ok(limit && Number(limit.uploaded) >= totalLength, `seeding-limit event: ${JSON.stringify(limit)}`);
  await downloader.done;
  await assertSameFiles(libtorrentDir, files);
});

test('seed --seed-time 2s exits 0 after 2 s', { timeout: 30_000 }, async (t) => {
  const root = await tempDir(t, 'seed-only-time');
  const { torrentPath } = await makeTorrent(root);
  const run = runCli(t, ['seed', torrentPath, '-d', root, '--seed-time', '2s', '--json', ...loopbackFlags(join(root, 'state'))]);
  assert.equal(await run.exited, 0, run.stderr());
  const events = run.events();
  const seededMs = eventTime(events, 'seeding-limit') - eventTime(events, 'start');
  assert.ok(seededMs >= 2000, `seeded for only ${seededMs} ms`);
});
