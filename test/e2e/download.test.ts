/**
 * End to end, in process: python3-libtorrent seeds on 127.0.0.1, our library Client downloads, and every
 * file is compared byte for byte with the original.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { needLibtorrent } from '../support/interop.js';
import { startLibtorrentSeeder, type LibtorrentProcess } from '../support/libtorrent.js';
import {
  assertSameTree,
  collectWarnings,
  defer,
  E2E_TIMEOUT_MS,
  makeScenario,
  type Scenario,
  startClient,
  waitDone,
} from '../support/swarm-fixture.js';

const KiB = 1024;
const MiB = 1024 * KiB;

async function seed(t: TestContext, s: Scenario): Promise<LibtorrentProcess & { port: number }> {
  const seeder = await startLibtorrentSeeder(s.torrentPath, s.seedDir);
  defer(t, () => seeder.stop());
  return seeder;
}

test('downloads a single file of odd size (short last piece, short last block) from libtorrent', { skip: needLibtorrent(), timeout: E2E_TIMEOUT_MS }, async (t) => {
  const size = 3 * MiB + 12_345;
  const s = await makeScenario(t, 'odd-size.bin', size, { pieceLength: 256 * KiB });
  assert.notEqual(size % s.meta.pieceLength, 0, 'the last piece is short');
  const seeder = await seed(t, s);

  const client = startClient(t, s.stateDir);
  const torrent = await client.add(s.torrentPath, { path: s.outDir, peers: [{ host: '127.0.0.1', port: seeder.port }] });
  const warnings = collectWarnings(torrent);
  const verified: number[] = [];
  torrent.on('piece', (p) => verified.push(p));
  await waitDone(torrent, warnings);

  await assertSameTree(s.downloaded, s.original);
  const everyPiece = Array.from({ length: s.meta.pieceCount }, (_, i) => i);
  assert.deepEqual(verified.sort((a, b) => a - b), everyPiece, 'every piece verified exactly once');
  const stats = torrent.stats();
  assert.equal(stats.state, 'seeding');
  assert.equal(stats.verifiedBytes, size);
  assert.ok(stats.downloadedFromPeers >= size, `received ${stats.downloadedFromPeers} payload bytes for ${size}`);
});

test('downloads a multi-file torrent with nested folders, an empty file and files smaller than a piece', { skip: needLibtorrent(), timeout: E2E_TIMEOUT_MS }, async (t) => {
  const s = await makeScenario(
    t,
    'album',
    {
      'cover.jpg': 40_000,
      'disc 1/01 intro.flac': 700_001,
      'disc 1/notes/readme.txt': 17,
      'disc 1/notes/empty.nfo': 0,
      'disc 2/deep/er/still/tiny.bin': 1,
      'disc 2/deep/er/track.flac': 1_300_000,
      'zz-last.sfv': 333,
    },
    { pieceLength: 64 * KiB },
  );
  assert.ok(s.meta.files.some((f) => f.length === 0), 'the torrent lists the empty file');
  const seeder = await seed(t, s);

  const client = startClient(t, s.stateDir);
  const torrent = await client.add(s.torrentPath, { path: s.outDir, peers: [{ host: '127.0.0.1', port: seeder.port }] });
  const warnings = collectWarnings(torrent);
  await waitDone(torrent, warnings);

  await assertSameTree(s.downloaded, s.original);
  assert.equal(torrent.stats().verifiedBytes, s.meta.totalLength);
});

test('downloads from three libtorrent seeders at once and gets data from more than one', { skip: needLibtorrent(), timeout: E2E_TIMEOUT_MS }, async (t) => {
  const size = 6 * MiB + 777;
  const s = await makeScenario(t, 'three-seeders.bin', size, { pieceLength: 64 * KiB, seed: 7 });
  const seeders = await Promise.all([seed(t, s), seed(t, s), seed(t, s)]);

  const client = startClient(t, s.stateDir);
  const torrent = await client.add(s.torrentPath, {
    path: s.outDir,
    peers: seeders.map((x) => ({ host: '127.0.0.1', port: x.port })),
  });
  const warnings = collectWarnings(torrent);
  // Who sent how much: sample each connected peer's received-byte total until the end.
  const receivedFrom = new Map<string, number>();
  const sample = () => {
    for (const peer of torrent.swarmForIncoming?.peers ?? []) receivedFrom.set(peer.label, Math.max(receivedFrom.get(peer.label) ?? 0, peer.download.total));
  };
  torrent.on('piece', sample);
  await waitDone(torrent, warnings);
  sample();

  await assertSameTree(s.downloaded, s.original);
  const contributors = [...receivedFrom.entries()].filter(([, bytes]) => bytes > 0);
  t.diagnostic(`bytes received per seeder: ${JSON.stringify([...receivedFrom])}`);
  assert.ok(contributors.length >= 2, `data came from ${contributors.length} seeder(s): ${JSON.stringify([...receivedFrom])}`);
  const seederPorts = new Set(seeders.map((x) => String(x.port)));
  for (const [label] of contributors) assert.ok(seederPorts.has(label.split(':')[1]), `${label} is one of the seeders`);
  for (const seeder of seeders) assert.ok(seeder.output.some((l) => l.startsWith('PEER ')), 'every seeder saw our connection');
});
