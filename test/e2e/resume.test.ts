/**
 * Resuming, end to end with the CLI: after a SIGKILL mid-download the same command finishes without fetching
 * verified pieces again; a folder that already holds the data downloads nothing; a folder with one damaged
 * file fetches only the pieces of that file.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { needLibtorrent } from '../support/interop.js';
import { startLibtorrentSeeder } from '../support/libtorrent.js';
import {
  assertSameTree,
  defer,
  downloadArgs,
  E2E_TIMEOUT_MS,
  lastProgress,
  makeScenario,
  parseNdjson,
  runCli,
  runCliToEnd,
} from '../support/swarm-fixture.js';

const KiB = 1024;
const MiB = 1024 * KiB;

test('after SIGKILL mid-download, the same command completes without fetching verified pieces again', { skip: needLibtorrent(), timeout: E2E_TIMEOUT_MS }, async (t) => {
  const total = 6 * MiB + 4_321;
  const s = await makeScenario(t, 'killed.bin', total, { pieceLength: 64 * KiB, seed: 31 });
  const seeder = await startLibtorrentSeeder(s.torrentPath, s.seedDir);
  defer(t, () => seeder.stop());
  const args = downloadArgs(s, '--peer', `127.0.0.1:${seeder.port}`, '--json');

  // 1 MiB/s makes the first run take about six seconds: long enough to kill it part way.
  const first = runCli(t, [...args, '--limit-down', '1M']);
  const quarter = Math.ceil(s.meta.pieceCount / 4);
  const line = await first.waitForLine((l) => {
    const e = JSON.parse(l) as { event: string; piecesVerified?: number };
    return e.event === 'progress' && (e.piecesVerified ?? 0) >= quarter;
  });
  first.kill('SIGKILL');
  const killed = await first.exited;
  assert.equal(killed.signal, 'SIGKILL');
  const before = JSON.parse(line) as { piecesVerified: number; verifiedBytes: number };
  assert.ok(before.piecesVerified < s.meta.pieceCount, `killed before the end (${before.piecesVerified} of ${s.meta.pieceCount} pieces)`);

  const second = await runCliToEnd(t, args);
  assert.equal(second.code, 0, `exit code\n${second.stderr}`);
  await assertSameTree(s.downloaded, s.original);
  const after = lastProgress(second.stdout);
  assert.equal(after.verifiedBytes, total);
  // Pieces verified before the kill are never fetched again; half-done pieces are fetched whole, and a
  // few endgame duplicates may arrive twice (at most one piece's worth here).
  const stillMissing = total - before.verifiedBytes;
  t.diagnostic(`verified before the kill: ${before.verifiedBytes}; second run received ${after.downloadedFromPeers} of ${total}`);
  assert.ok(
    after.downloadedFromPeers <= stillMissing + s.meta.pieceLength,
    `second run received ${after.downloadedFromPeers} bytes; only ${stillMissing} were missing at the kill`,
  );
  assert.ok(after.downloadedFromPeers < total - before.verifiedBytes / 2, 'clearly less than a fresh download');
});

test('a folder that already holds all the data completes at once, downloading nothing', { timeout: E2E_TIMEOUT_MS }, async (t) => {
  const s = await makeScenario(t, 'complete', { 'a.bin': 300_000, 'sub/b.bin': 123_456, 'sub/c.txt': 10 }, { pieceLength: 32 * KiB, seed: 33 });
  await cp(s.original, s.downloaded, { recursive: true });
  // No peers and no trackers at all: the only way to finish is to find every piece on disk.
  const result = await runCliToEnd(t, downloadArgs(s, '--json', '--timeout', '5'));
  assert.equal(result.code, 0, `exit code\n${result.stdout}\n${result.stderr}`);
  const events = parseNdjson(result.stdout);
  assert.ok(events.some((e) => e.event === 'done'));
  const final = lastProgress(result.stdout);
  assert.equal(final.downloadedFromPeers, 0);
  assert.equal(final.verifiedBytes, s.meta.totalLength);
  await assertSameTree(s.downloaded, s.original);
});

test('a folder with one damaged file fetches only the pieces of that file', { skip: needLibtorrent(), timeout: E2E_TIMEOUT_MS }, async (t) => {
  const pieceLength = 32 * KiB;
  const s = await makeScenario(
    t,
    'damaged',
    { '1-before.bin': 200_000, '2-damaged.bin': 150_000, '3-after.bin': 250_000, 'zz/4-tail.bin': 77_777 },
    { pieceLength, seed: 35 },
  );
  await cp(s.original, s.downloaded, { recursive: true });
  const damaged = s.meta.files.find((f) => f.path.join('/') === 'damaged/2-damaged.bin')!;
  await writeFile(join(s.outDir, ...damaged.path), Buffer.alloc(damaged.length, 0xaa));
  const offset = damaged.offset;
  const firstPiece = Math.floor(offset / pieceLength);
  const lastPiece = Math.floor((offset + damaged.length - 1) / pieceLength);
  const damagedPieceBytes = (lastPiece - firstPiece + 1) * pieceLength;

  const seeder = await startLibtorrentSeeder(s.torrentPath, s.seedDir);
  defer(t, () => seeder.stop());
  const result = await runCliToEnd(t, downloadArgs(s, '--peer', `127.0.0.1:${seeder.port}`, '--json'));
  assert.equal(result.code, 0, `exit code\n${result.stderr}`);
  await assertSameTree(s.downloaded, s.original);
  const final = lastProgress(result.stdout);
  assert.ok(final.downloadedFromPeers >= damaged.length, `fetched the damaged file's ${damaged.length} bytes (got ${final.downloadedFromPeers})`);
  assert.ok(
    final.downloadedFromPeers <= damagedPieceBytes,
    `fetched ${final.downloadedFromPeers} bytes; the ${lastPiece - firstPiece + 1} pieces touching the damaged file hold ${damagedPieceBytes}`,
  );
});
