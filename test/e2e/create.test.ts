/** `torrent create` then `torrent info --json`: what goes into a .torrent comes back out, through the CLI. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { KiB, runCli, tempDir, writePayload } from './seed-harness.js';

interface Info {
  name: string;
  infoHash: string;
  totalLength: number;
  pieceLength: number;
  pieceCount: number;
  private: boolean;
  files: { path: string; length: number }[];
  trackers: string[][];
  webSeeds: string[];
  comment?: string;
  createdBy?: string;
  creationDate?: string;
}

/** Runs the CLI to completion; fails the test unless it exits 0. Returns stdout. */
async function cli(t: TestContext, args: string[]): Promise<string> {
  const run = runCli(t, args);
  const code = await run.exited;
  assert.equal(code, 0, `torrent ${args.join(' ')} exited with ${code}: ${run.stderr()}`);
  return run.lines.join('\n');
}

async function info(t: TestContext, torrentPath: string): Promise<Info> {
  return JSON.parse(await cli(t, ['info', torrentPath, '--json'])) as Info;
}

async function makeFolder(root: string) {
  return writePayload(root, 'album', [
    { path: ['b-side.bin'], size: 70 * KiB + 7 },
    { path: ['a-side.bin'], size: 40 * KiB },
    { path: ['notes', 'liner.txt'], size: 999 },
  ]);
}

test('a folder: name, files, tiers, web seeds, private, comment and piece length survive the round trip', { timeout: 30_000 }, async (t) => {
  const root = await tempDir(t, 'create-folder');
  await makeFolder(root);
  const torrentPath = join(root, 'album.torrent');
  const created = JSON.parse(
    await cli(t, [
      'create', join(root, 'album'), '-o', torrentPath, '--json',
      '--announce', 'http://127.0.0.1:6969/announce',
      '--announce', 'udp://127.0.0.1:6970,http://127.0.0.1:6971/announce',
      '--web-seed', 'http://127.0.0.1:8080/files/',
      '--web-seed', 'http://127.0.0.1:8081/mirror/',
      '--private', '--comment', 'round trip ✓', '--piece-length', '32k',
    ]),
  ) as { infoHash: string; name: string; totalLength: number; pieceLength: number; pieceCount: number };

  const shown = await info(t, torrentPath);
  assert.equal(shown.name, 'album');
  assert.equal(shown.infoHash, created.infoHash, 'create --json and info agree on the info-hash');
  // Files in a folder are listed in path order (as mktorrent does), whatever order they were written in.
  assert.deepEqual(shown.files, [
    { path: 'album/a-side.bin', length: 40 * KiB },
    { path: 'album/b-side.bin', length: 70 * KiB + 7 },
    { path: 'album/notes/liner.txt', length: 999 },
  ]);
  assert.equal(shown.totalLength, 110 * KiB + 7 + 999);
  assert.equal(shown.pieceLength, 32 * KiB);
  assert.equal(shown.pieceCount, Math.ceil(shown.totalLength / (32 * KiB)));
  // Each --announce is a tier; a comma-separated value is one tier of several trackers (BEP 12).
  assert.deepEqual(shown.trackers, [['http://127.0.0.1:6969/announce'], ['udp://127.0.0.1:6970', 'http://127.0.0.1:6971/announce']]);
  assert.deepEqual(shown.webSeeds, ['http://127.0.0.1:8080/files/', 'http://127.0.0.1:8081/mirror/']);
  assert.equal(shown.private, true);
  assert.equal(shown.comment, 'round trip ✓');
  assert.match(shown.createdBy ?? '', /^torrent\.ts\//);
  assert.ok(shown.creationDate && Math.abs(Date.parse(shown.creationDate) - Date.now()) < 60_000, `creation date ${shown.creationDate}`);
});

test('--tier puts every --announce in one tier', { timeout: 30_000 }, async (t) => {
  const root = await tempDir(t, 'create-tier');
  await makeFolder(root);
  const torrentPath = join(root, 'album.torrent');
  await cli(t, ['create', join(root, 'album'), '-o', torrentPath, '--quiet', '--tier', '--announce', 'http://127.0.0.1:1/announce', '--announce', 'http://127.0.0.1:2/announce']);
  const shown = await info(t, torrentPath);
  assert.deepEqual(shown.trackers, [['http://127.0.0.1:1/announce', 'http://127.0.0.1:2/announce']]);
  assert.equal(shown.private, false);
  assert.deepEqual(shown.webSeeds, []);
  assert.equal(shown.comment, undefined);
});

test('--no-date gives the same bytes twice, whatever --threads; without it the date is there', { timeout: 30_000 }, async (t) => {
  const root = await tempDir(t, 'create-nodate');
  await makeFolder(root);
  const first = join(root, 'first.torrent');
  const second = join(root, 'second.torrent');
  const dated = join(root, 'dated.torrent');
  const common = ['--quiet', '--announce', 'http://127.0.0.1:6969/announce', '--piece-length', '16k'];
  await cli(t, ['create', join(root, 'album'), '-o', first, '--no-date', '--threads', '1', ...common]);
  await cli(t, ['create', join(root, 'album'), '-o', second, '--no-date', '--threads', '3', ...common]);
  await cli(t, ['create', join(root, 'album'), '-o', dated, ...common]);
  const [a, b, c] = await Promise.all([readFile(first), readFile(second), readFile(dated)]);
  assert.ok(a.equals(b), 'two --no-date runs give identical .torrent bytes');
  assert.equal((await info(t, first)).creationDate, undefined);
  assert.ok(!a.equals(c));
  const [undated, withDate] = [await info(t, first), await info(t, dated)];
  assert.ok(withDate.creationDate !== undefined);
  assert.equal(withDate.infoHash, undated.infoHash, 'the date is outside the info dictionary');
});

test('a single file: its name is the file name and there is one file entry', { timeout: 30_000 }, async (t) => {
  const root = await tempDir(t, 'create-single');
  const [file] = await writePayload(root, 'song.flac', [{ path: [], size: 100 * KiB + 1 }]);
  const torrentPath = join(root, 'song.torrent');
  await cli(t, ['create', join(root, 'song.flac'), '-o', torrentPath, '--quiet', '--piece-length', '16k']);
  const shown = await info(t, torrentPath);
  assert.equal(shown.name, 'song.flac');
  assert.deepEqual(shown.files, [{ path: 'song.flac', length: file.data.length }]);
  assert.equal(shown.pieceCount, 7);
  assert.deepEqual(shown.trackers, []);
});

test('create refuses an empty folder, a bad piece length and a bad thread count with exit code 2', { timeout: 30_000 }, async (t) => {
  const root = await tempDir(t, 'create-bad');
  await makeFolder(root);
  for (const [args, message] of [
    [['create', join(root, 'nothing-here'), '-o', join(root, 'x.torrent')], /nothing-here/],
    [['create', join(root, 'album'), '-o', join(root, 'x.torrent'), '--piece-length', '1000'], /piece length/],
    [['create', join(root, 'album'), '-o', join(root, 'x.torrent'), '--threads', '0'], /not a thread count/],
  ] as const) {
    const run = runCli(t, [...args]);
    assert.equal(await run.exited, 2, `torrent ${args.join(' ')}: ${run.stderr()}`);
    assert.match(run.stderr(), message);
  }
});
