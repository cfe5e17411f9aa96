/**
 * Hostile input, end to end: torrents that try to escape the download folder or are not torrents at all
 * (CLI, exit 2 with one line), and peers that lie, stall, speak garbage or answer for another torrent beside
 * an honest libtorrent seeder (the download still completes, correct on disk, the liar banned).
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { encode } from '../../src/bencode/index.js';
import { startEvilPeer, type EvilPeer, type EvilPeerMode } from '../support/evil-peer.js';
import { needLibtorrent } from '../support/interop.js';
import { startLibtorrentSeeder } from '../support/libtorrent.js';
import { piecesOf } from '../metainfo/torrent-builder.js';
import {
  assertSameTree,
  collectWarnings,
  defer,
  E2E_TIMEOUT_MS,
  listTree,
  makeScenario,
  payloadBytes,
  runCliToEnd,
  type Scenario,
  startClient,
  tempDir,
  waitDone,
} from '../support/swarm-fixture.js';

const KiB = 1024;
const MiB = 1024 * KiB;

// ── hostile .torrent files (CLI) ─────────────────────────────────────────────────────────────────────────────

/** One line on stderr, prefixed by the program name, and nothing on stdout. */
function assertOneLineError(result: { stdout: string; stderr: string }, pattern: RegExp): void {
  assert.equal(result.stdout, '', 'nothing on stdout');
  const lines = result.stderr.split('\n').filter((l) => l.length > 0);
  assert.equal(lines.length, 1, `exactly one line on stderr:\n${result.stderr}`);
  assert.match(lines[0], /^torrent: /);
  assert.match(lines[0], pattern);
}

test('a torrent with "../" in a file path is refused with exit 2, and nothing is written outside the output folder', { timeout: E2E_TIMEOUT_MS }, async (t) => {
  const root = await tempDir(t, 'escape');
  const parent = join(root, 'parent');
  const outDir = join(parent, 'out');
  const stateDir = join(root, 'state');
  await mkdir(outDir, { recursive: true });
  await writeFile(join(parent, 'innocent.txt'), 'already here\n');
  const data = payloadBytes(40_000, 3);
  // Files of a multi-file torrent land in <out>/<name>/; two ".." climb to <parent>.
  const info = {
    name: 'evil',
    'piece length': 16 * KiB,
    pieces: piecesOf(data, 16 * KiB),
    files: [
      { length: 30_000, path: ['ok.bin'] },
      { length: 10_000, path: ['..', '..', 'escaped.txt'] },
    ],
  };
  const torrentPath = join(root, 'evil.torrent');
  await writeFile(torrentPath, encode({ info }));
  const before = await listTree(parent);

  const result = await runCliToEnd(t, ['download', torrentPath, '-o', outDir, '--state-dir', stateDir, '--port', '0', '--listen-host', '127.0.0.1', '--peer', '127.0.0.1:9']);
  assert.equal(result.code, 2, `exit code\n${result.stderr}`);
  assertOneLineError(result, /unsafe path "evil\/\.\.\/\.\.\/escaped\.txt"/);
  assert.deepEqual(await listTree(parent), before, 'the parent folder (and the output folder) are unchanged');
});

test('a malformed torrent is refused with exit 2 naming the byte offset', { timeout: E2E_TIMEOUT_MS }, async (t) => {
  const root = await tempDir(t, 'malformed');
  const torrentPath = join(root, 'bad.torrent');
  // The "x" at byte 19 cannot be part of an integer.
  await writeFile(torrentPath, 'd4:infod6:lengthi12xee');
  const outDir = join(root, 'out');
  const result = await runCliToEnd(t, ['download', torrentPath, '-o', outDir, '--state-dir', join(root, 'state'), '--port', '0']);
  assert.equal(result.code, 2);
  assertOneLineError(result, /malformed torrent at byte 19\b/);
  assert.deepEqual(await listTree(root), ['bad.torrent 22'], 'no output or state folder was created');
});

test('a missing torrent file is refused with exit 2 and "not found"', { timeout: E2E_TIMEOUT_MS }, async (t) => {
  const root = await tempDir(t, 'missing');
  const result = await runCliToEnd(t, ['download', join(root, 'nowhere.torrent'), '-o', join(root, 'out'), '--state-dir', join(root, 'state'), '--port', '0']);
  assert.equal(result.code, 2);
  assertOneLineError(result, /nowhere\.torrent not found/);
});

test('a magnet link is refused with exit 2, saying that magnet links are not supported yet', { timeout: E2E_TIMEOUT_MS }, async (t) => {
  const root = await tempDir(t, 'magnet');
  const magnet = 'magnet:?xt=urn:btih:5803e83073317c2543af2154fa3e14e5bc6c9e28';
  const result = await runCliToEnd(t, ['download', magnet, '-o', join(root, 'out'), '--state-dir', join(root, 'state'), '--port', '0']);
  assert.equal(result.code, 2);
  assertOneLineError(result, /magnet links are not supported yet/);
  assert.deepEqual(await listTree(root), [], 'no output or state folder was created');
});

// ── hostile peers (library) ──────────────────────────────────────────────────────────────────────────────────

async function evil(t: TestContext, s: Scenario, mode: EvilPeerMode, corruptPieces: number[] = []): Promise<EvilPeer> {
  const data = await readFile(s.original);
  const peer = await startEvilPeer({ infoHash: s.meta.infoHash, data, pieceLength: s.meta.pieceLength, mode, corruptPieces });
  defer(t, () => peer.close());
  return peer;
}

test('a peer sending corrupted blocks beside an honest seeder is banned; the download is correct', { skip: needLibtorrent(), timeout: E2E_TIMEOUT_MS }, async (t) => {
  const s = await makeScenario(t, 'liar.bin', 2 * MiB + 5_000, { pieceLength: 32 * KiB, seed: 21 });
  // Every other piece comes corrupted from the liar; the rest it serves honestly.
  const corrupt = Array.from({ length: s.meta.pieceCount }, (_, i) => i).filter((i) => i % 2 === 0);
  const liar = await evil(t, s, 'serve', corrupt);
  const seeder = await startLibtorrentSeeder(s.torrentPath, s.seedDir);
  defer(t, () => seeder.stop());

  const client = startClient(t, s.stateDir);
  const torrent = await client.add(s.torrentPath, {
    path: s.outDir,
    peers: [
      { host: '127.0.0.1', port: liar.port },
      { host: '127.0.0.1', port: seeder.port },
    ],
  });
  const warnings = collectWarnings(torrent);
  await waitDone(torrent, warnings);

  await assertSameTree(s.downloaded, s.original);
  assert.ok(liar.stats.corruptBlocksServed > 0, `the liar served corrupt blocks (${JSON.stringify(liar.stats)})`);
  const bans = warnings.filter((w) => w.startsWith('banned peer '));
  assert.equal(bans.length, 1, `one ban warning: ${warnings.join(' | ')}`);
  assert.match(bans[0], new RegExp(`^banned peer 127\\.0\\.0\\.1:${liar.port}: `));
  assert.ok(!warnings.some((w) => w.includes(`:${seeder.port}`)), 'the honest seeder is never blamed');
  // Banned means gone for good: the liar is not among the peers at the end.
  assert.ok(![...(torrent.swarmForIncoming?.peers ?? [])].some((p) => p.address.port === liar.port));
});

test('stalling, silent, garbage, oversized-message and wrong-info-hash peers do not stop a download from an honest seeder', { skip: needLibtorrent(), timeout: E2E_TIMEOUT_MS }, async (t) => {
  const s = await makeScenario(t, 'hostile-crowd.bin', 1 * MiB + 3_333, { pieceLength: 32 * KiB, seed: 23 });
  const modes: EvilPeerMode[] = ['stall', 'silent', 'garbage', 'oversized', 'wrong-info-hash'];
  const hostile = await Promise.all(modes.map((mode) => evil(t, s, mode)));
  const seeder = await startLibtorrentSeeder(s.torrentPath, s.seedDir);
  defer(t, () => seeder.stop());

  const client = startClient(t, s.stateDir);
  const torrent = await client.add(s.torrentPath, {
    path: s.outDir,
    // The hostile peers first, so they are dialled before (or with) the honest one.
    peers: [...hostile.map((p) => ({ host: '127.0.0.1', port: p.port })), { host: '127.0.0.1', port: seeder.port }],
  });
  const warnings = collectWarnings(torrent);
  const started = Date.now();
  await waitDone(torrent, warnings);

  await assertSameTree(s.downloaded, s.original);
  hostile.forEach((p, i) => assert.ok(p.stats.connections > 0, `the ${modes[i]} peer was dialled`));
  assert.ok(hostile[0].stats.requests > 0, 'the stalling peer was asked for blocks it never sent');
  // A stalled peer's requests go to the honest seeder long before the 30 s snub timeout.
  assert.ok(Date.now() - started < 25_000, `took ${Date.now() - started} ms`);
});
