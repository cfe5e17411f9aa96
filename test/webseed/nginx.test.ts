/** Web seed fetches against a real nginx serving the torrent's files (interop). */
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { WebSeedFileMissingError, WebSeedUnavailableError } from '../../src/webseed/errors.js';
import { WebSeedSource } from '../../src/webseed/source.js';
import { WebSeed } from '../../src/webseed/webseed.js';
import { needNginx, startNginx } from '../support/nginx.js';
import { makeServedFolder, multiFileTorrent, singleFileTorrent } from './fixture.js';

const PIECE = 16 * 1024;

test('nginx: ranges of a single-file torrent with an awkward name', { skip: needNginx() }, async (t) => {
  const folder = await makeServedFolder();
  t.after(() => folder.remove());
  const { meta, data } = await singleFileTorrent(folder.root, 'single file + #1 ünïcødé?.bin', 5 * PIECE + 123, PIECE);
  const nginx = await startNginx(folder.root);
  t.after(() => nginx.stop());

  const seed = new WebSeed(nginx.url, meta);
  t.after(() => seed.close());
  for (const [offset, length] of [
    [0, 1],
    [0, PIECE],
    [PIECE - 7, 2 * PIECE + 11],
    [data.length - 123, 123],
    [0, data.length],
  ]) {
    assert.deepEqual(await seed.fetchRange(offset, length), data.subarray(offset, offset + length), `${offset}+${length}`);
  }
  assert.ok(seed.bytesReceived >= data.length);

  // The entry naming the file itself (no trailing slash) is the file, whatever the torrent calls it.
  const direct = new WebSeedSource(nginx.url + encodeURIComponent(meta.name), meta);
  t.after(() => direct.close());
  assert.deepEqual(await direct.fetchPieces(0, meta.pieceCount), data);
});

test('nginx: a multi-file torrent, ranges across files, padding and an empty file', { skip: needNginx() }, async (t) => {
  const folder = await makeServedFolder();
  t.after(() => folder.remove());
  const { meta, data } = await multiFileTorrent(
    folder.root,
    'Ärger & Co #2',
    [
      { path: ['a b.txt'], length: 1000 },
      { path: ['.pad', '15384'], length: PIECE - 1000, padding: true },
      { path: ['c+d#e.bin'], length: PIECE + 5 },
      { path: ['empty'], length: 0 },
      { path: ['ñandú', '日本語 ?.dat'], length: 3 * PIECE },
      { path: ['100%.txt'], length: 77 },
    ],
    PIECE,
  );
  const nginx = await startNginx(folder.root);
  t.after(() => nginx.stop());

  // Without the trailing slash BEP 19 asks for: tolerated for multi-file torrents.
  const seed = new WebSeed(nginx.url.slice(0, -1), meta);
  t.after(() => seed.close());
  const acrossFiles: [number, number][] = [
    [500, 1000], // a b.txt into the padding
    [900, PIECE + 300], // a b.txt, padding, c+d#e.bin
    [2 * PIECE, PIECE + 20], // c+d#e.bin, empty, ñandú/日本語 ?.dat
    [data.length - 100, 100], // the last two files
  ];
  for (const [offset, length] of acrossFiles) {
    assert.deepEqual(await seed.fetchRange(offset, length), data.subarray(offset, offset + length), `${offset}+${length}`);
  }

  const source = new WebSeedSource(nginx.url, meta, { maxRequestBytes: 2 * PIECE });
  t.after(() => source.close());
  assert.equal(source.piecesPerRequest, 2);
  const pieces: Buffer[] = [];
  for (let first = 0; first < meta.pieceCount; first += source.piecesPerRequest) {
    pieces.push(await source.fetchPieces(first, Math.min(source.piecesPerRequest, meta.pieceCount - first)));
  }
  assert.deepEqual(Buffer.concat(pieces), data);
  assert.equal(source.state, 'active');
});

test('nginx: one range over sixteen files is sixteen requests at once, without a listener-leak warning', { skip: needNginx() }, async (t) => {
  const folder = await makeServedFolder();
  t.after(() => folder.remove());
  const files = Array.from({ length: 16 }, (_, i) => ({ path: [`part ${i}.bin`], length: 1000 + i }));
  const { meta, data } = await multiFileTorrent(folder.root, 'many small files', files, PIECE);
  const nginx = await startNginx(folder.root);
  t.after(() => nginx.stop());
  const warnings: string[] = [];
  const onWarning = (w: Error) => warnings.push(`${w.name}: ${w.message}`);
  process.on('warning', onWarning);
  t.after(() => process.off('warning', onWarning));

  const seed = new WebSeed(nginx.url, meta, { connectionsPerHost: 16 });
  t.after(() => seed.close());
  assert.deepEqual(await seed.fetchRange(0, data.length), data);
  await new Promise((resolve) => setImmediate(resolve)); // warnings are emitted on a later tick
  assert.deepEqual(warnings, []);
});

test('nginx: a file missing on the mirror spoils only the pieces it touches', { skip: needNginx() }, async (t) => {
  const folder = await makeServedFolder();
  t.after(() => folder.remove());
  const { meta, data } = await multiFileTorrent(
    folder.root,
    'partial',
    [
      { path: ['first.bin'], length: 2 * PIECE },
      { path: ['gone.bin'], length: PIECE + 10 },
      { path: ['last.bin'], length: 2 * PIECE },
    ],
    PIECE,
  );
  await rm(join(folder.root, 'partial', 'gone.bin'));
  const nginx = await startNginx(folder.root);
  t.after(() => nginx.stop());
  const source = new WebSeedSource(nginx.url, meta);
  t.after(() => source.close());
  const warnings: string[] = [];
  source.on('warning', (message) => warnings.push(message));

  await assert.rejects(source.fetchPieces(1, 2), (error: unknown) => {
    assert.ok(error instanceof WebSeedUnavailableError);
    assert.ok(error.cause instanceof WebSeedFileMissingError);
    assert.equal(error.cause.status, 404);
    assert.equal(error.cause.fileIndex, 1);
    return true;
  });
  assert.equal(warnings.length, 1);
  assert.match(warnings[0], /gone\.bin/);
  assert.deepEqual(
    Array.from({ length: meta.pieceCount }, (_, piece) => source.canServe(piece)),
    [true, true, false, false, true, true],
  );
  assert.equal(source.state, 'active');
  assert.deepEqual(await source.fetchPieces(0, 2), data.subarray(0, 2 * PIECE));
  assert.deepEqual(await source.fetchPieces(4, 2), data.subarray(4 * PIECE));
});
