/**
 * A swarm of only our own library Clients on 127.0.0.1, found through our tracker: one seeder with a tight
 * upload limit and leechers joining one after another. The seeder alone cannot feed them all in time, so
 * they must trade pieces among themselves; the byte counts prove they did.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createTorrent } from '../../src/creation/index.js';
import { Client } from '../../src/session/client.js';
import type { Torrent } from '../../src/session/torrent.js';
import { TrackerServer } from '../../src/tracker/server.js';
import { assertSameFiles, cleanup, KiB, MiB, tempDir, until, writePayload } from './seed-harness.js';

const LEECHERS = 3;
const JOIN_INTERVAL_MS = 700;
const SEEDER_UPLOAD_LIMIT = 512 * KiB;

test('leechers that join at different times trade pieces instead of all leaning on the seeder', { timeout: 90_000 }, async (t) => {
  const root = await tempDir(t, 'swarm');
  const tracker = await TrackerServer.start({ host: '127.0.0.1' });
  cleanup(t, () => tracker.close());
  const files = await writePayload(root, 'shared', [
    { path: ['one.bin'], size: 2 * MiB + 5 * KiB },
    { path: ['two.bin'], size: 1 * MiB - 5 * KiB },
  ]);
  const { torrent, meta } = await createTorrent(join(root, 'shared'), { pieceLength: 32 * KiB, announce: [tracker.httpUrl] });
  await writeFile(join(root, 'shared.torrent'), torrent);

  const clients: Client[] = [];
  cleanup(t, () => Promise.all(clients.map((c) => c.destroy())));
  const newClient = (name: string, uploadLimit?: number) => {
    const client = new Client({ port: 0, listenHost: '127.0.0.1', stateDir: join(root, `state-${name}`), uploadLimit });
    clients.push(client);
    return client;
  };

  const seeding = await newClient('seeder', SEEDER_UPLOAD_LIMIT).add(torrent, { path: root });
  await seeding.done;
  await until(() => tracker.swarmSize(meta.infoHash) === 1, 10_000, () => 'the seeder to announce itself');

  const leechers: Torrent[] = [];
  for (let i = 0; i < LEECHERS; i++) {
    if (i > 0) await sleep(JOIN_INTERVAL_MS);
    leechers.push(await newClient(`leecher-${i}`).add(torrent, { path: join(root, `leecher-${i}`) }));
  }
  await Promise.all(leechers.map((l) => l.done));

  const seeder = seeding.stats();
  const stats = leechers.map((l) => l.stats());
  for (const [i, s] of stats.entries()) {
    assert.equal(s.state, 'seeding', `leecher ${i} finished`);
    assert.equal(s.verifiedBytes, meta.totalLength);
    assert.equal(s.downloadedFromWebSeeds, 0);
    await assertSameFiles(join(root, `leecher-${i}`), files);
  }
  const received = stats.reduce((n, s) => n + s.downloadedFromPeers, 0);
  const uploadedByLeechers = stats.reduce((n, s) => n + s.uploaded, 0);
  const detail = `seeder uploaded ${seeder.uploaded}, leechers received ${stats.map((s) => s.downloadedFromPeers)} and uploaded ${stats.map((s) => s.uploaded)}, total length ${meta.totalLength}`;
  t.diagnostic(detail);
  // The seeder is never interested in anyone, so whatever the leechers uploaded went to other leechers.
  assert.ok(uploadedByLeechers > 0, `no leecher uploaded anything: ${detail}`);
  assert.ok(stats.filter((s) => s.uploaded > 0).length >= 2, `fewer than two leechers shared: ${detail}`);
  // Every leecher holds the whole torrent, yet the seeder sent less than one copy each: the rest came from
  // leechers. (Received bytes can exceed what was sent only by what another leecher supplied.)
  assert.ok(seeder.uploaded < LEECHERS * meta.totalLength, `the seeder sent everything: ${detail}`);
  assert.ok(received > seeder.uploaded, `nothing came from a non-seeder: ${detail}`);
});
