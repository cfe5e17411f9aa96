/**
 * End to end with a real tracker: opentracker on 127.0.0.1, a libtorrent seeder announcing to it, and our
 * CLI finding the seeder through the tracker alone (no --peer), over HTTP and over UDP (BEP 15).
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { needLibtorrent } from '../support/interop.js';
import { startLibtorrentSeeder } from '../support/libtorrent.js';
import { needOpentracker, startOpentracker, type RunningOpentracker } from '../support/opentracker.js';
import {
  assertSameTree,
  defer,
  downloadArgs,
  E2E_TIMEOUT_MS,
  makeScenario,
  makeTorrent,
  runCliToEnd,
  waitForTrackerSeeders,
} from '../support/swarm-fixture.js';

const KiB = 1024;
const needBoth = () => needLibtorrent() || needOpentracker();

async function tracker(t: TestContext, infoHashes: Uint8Array[]): Promise<RunningOpentracker> {
  const running = await startOpentracker(infoHashes);
  defer(t, () => running.stop());
  return running;
}

/**
 * Seeds through the tracker and downloads with the CLI (no --peer); returns the CLI's result. The seeder's
 * torrent lists only the working tracker (libtorrent reports a dead one as an error); the CLI's has `tiers`.
 */
async function downloadViaTracker(t: TestContext, name: string, tiers: (ot: RunningOpentracker) => string[][], seederUrl = (ot: RunningOpentracker) => ot.httpUrl) {
  // The info-hash must be known before the tracker starts (Debian's opentracker serves a whitelist), and
  // the tracker URL is part of the torrent: make the torrent twice, once to learn the hash.
  const probe = await makeScenario(t, name, 1_200_000, { pieceLength: 64 * KiB, seed: 11, tiers: [['http://127.0.0.1:9/announce']] });
  const ot = await tracker(t, [probe.meta.infoHash]);
  const s = await makeScenario(t, name, 1_200_000, { pieceLength: 64 * KiB, seed: 11, tiers: tiers(ot) });
  assert.ok(Buffer.from(s.meta.infoHash).equals(probe.meta.infoHash), 'trackers are outside the info dictionary');

  // The probe's folder is free for the seeder's torrent (same info dictionary, other trackers).
  const seederTorrent = await makeTorrent(s.original, probe.root, { pieceLength: 64 * KiB, tiers: [[seederUrl(ot)]] });
  const seeder = await startLibtorrentSeeder(seederTorrent.torrentPath, s.seedDir, { tracker: true });
  defer(t, () => seeder.stop());
  await waitForTrackerSeeders(ot.httpUrl, s.meta.infoHash);

  const result = await runCliToEnd(t, downloadArgs(s, '--timeout', '30'));
  assert.equal(result.code, 0, `exit code\nstdout:\n${result.stdout}\nstderr:\n${result.stderr}`);
  await assertSameTree(s.downloaded, s.original);
  return result;
}

test('CLI finds a libtorrent seeder through opentracker over HTTP', { skip: needBoth(), timeout: E2E_TIMEOUT_MS }, async (t) => {
  const result = await downloadViaTracker(t, 'via-http.bin', (ot) => [[ot.httpUrl]]);
  assert.match(result.stdout, /complete, every piece verified/);
  assert.doesNotMatch(result.stderr, /warning/, 'a working tracker gives no warning');
});

test('CLI finds a libtorrent seeder through opentracker over UDP', { skip: needBoth(), timeout: E2E_TIMEOUT_MS }, async (t) => {
  const result = await downloadViaTracker(t, 'via-udp.bin', (ot) => [[ot.udpUrl]], (ot) => ot.udpUrl);
  assert.match(result.stdout, /complete, every piece verified/);
});

test('a dead tracker in an earlier tier is a warning; the working one in the next tier still finds the seeder', { skip: needBoth(), timeout: E2E_TIMEOUT_MS }, async (t) => {
  // Port 1 on loopback: nothing listens there, so the connection is refused at once.
  const dead = 'http://127.0.0.1:1/announce';
  const result = await downloadViaTracker(t, 'dead-tier.bin', (ot) => [[dead], [ot.httpUrl]]);
  const warnings = result.stderr.split('\n').filter((line) => line.startsWith('warning: '));
  assert.ok(
    warnings.some((line) => line.includes(dead)),
    `a warning names the dead tracker\nstderr:\n${result.stderr}`,
  );
  for (const line of warnings) assert.ok(line.includes(dead), `only the dead tracker is warned about: ${line}`);
});
