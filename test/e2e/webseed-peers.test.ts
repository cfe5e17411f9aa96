/**
 * Web seeds beside a python3-libtorrent seeder: both sources feed the same download, and the web seed
 * finishes what the peer left when the peer goes away.
 */
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import test from 'node:test';
import { startFaultServer } from '../support/fault-server.js';
import { needLibtorrent } from '../support/interop.js';
import { startLibtorrentSeeder } from '../support/libtorrent.js';
import { needNginx, startNginx } from '../support/nginx.js';
import {
  assertSameFiles,
  cliDownload,
  copyServedFolder,
  lastProgress,
  makeTorrent,
  MULTI_FILES,
  multiFilePayload,
  runCli,
  singleFilePayload,
  startLibraryDownload,
  warningMatching,
  within,
  workspace,
} from './webseed-fixture.js';

const needBoth = () => needNginx() || needLibtorrent();

test('library: a file missing on the web seed comes from the peer, the rest from both', { skip: needBoth() }, async (t) => {
  const ws = await workspace(t);
  const payload = await multiFilePayload(await ws.folder('www'));
  // The mirror lacks one file, so the peer must supply it: both sources are used whatever their speeds.
  const missing = MULTI_FILES[1].path;
  const mirrorRoot = await copyServedFolder(payload, join(ws.dir, 'mirror'));
  await rm(join(mirrorRoot, payload.name, ...missing));
  const nginx = await startNginx(mirrorRoot);
  ws.defer(() => nginx.stop());
  const torrentFile = await makeTorrent(payload, [nginx.url], ws.dir);
  const seeder = await startLibtorrentSeeder(torrentFile.path, payload.root);
  ws.defer(() => seeder.stop());
  const out = await ws.folder('out');

  const { torrent, warnings } = await startLibraryDownload(ws, torrentFile.bytes, out, {
    peers: [{ host: '127.0.0.1', port: seeder.port }],
  });
  await within(torrent.done, 60_000, 'the download');

  const stats = torrent.stats();
  assert.ok(stats.downloadedFromPeers >= MULTI_FILES[1].length, `peer bytes ${stats.downloadedFromPeers}`);
  assert.ok(stats.downloadedFromWebSeeds > 0, 'no bytes from the web seed');
  assert.ok(warnings.some((w) => w.includes('does not have') && w.includes(encodeURIComponent(missing[0]))), warnings.join('\n'));
  await assertSameFiles(out, payload);
});

test('CLI: a libtorrent peer (--peer) and an nginx web seed both contribute', { skip: needBoth() }, async (t) => {
  const ws = await workspace(t);
  const payload = await singleFilePayload(await ws.folder('www'));
  const nginx = await startNginx(payload.root);
  ws.defer(() => nginx.stop());
  const torrentFile = await makeTorrent(payload, [nginx.url], ws.dir);
  const seeder = await startLibtorrentSeeder(torrentFile.path, payload.root);
  ws.defer(() => seeder.stop());
  const out = await ws.folder('out');

  const run = await runCli([...cliDownload(torrentFile.path, out, await ws.folder('state')), '--peer', `127.0.0.1:${seeder.port}`]);
  assert.equal(run.code, 0, run.stderr);
  const last = lastProgress(run);
  assert.equal(last.state, 'seeding');
  assert.ok(last.downloadedFromPeers > 0, `peer bytes ${last.downloadedFromPeers}`);
  assert.ok(last.downloadedFromWebSeeds > 0, `web seed bytes ${last.downloadedFromWebSeeds}`);
  assert.ok(last.downloadedFromPeers + last.downloadedFromWebSeeds >= torrentFile.meta.totalLength);
  await assertSameFiles(out, payload);
});

test('library: pieces a peer started and abandoned are finished by the web seed alone', { skip: needLibtorrent() }, async (t) => {
  const ws = await workspace(t);
  const payload = await singleFilePayload(await ws.folder('www'));
  const mirror = await startFaultServer(payload.root);
  ws.defer(() => mirror.close());
  // The mirror is busy for the first two seconds, so the peer starts the download alone.
  const busy = { kind: 'status', status: 503, headers: { 'retry-after': '2' } } as const;
  mirror.inject(`/${payload.name}`, busy, busy, busy);
  const torrentFile = await makeTorrent(payload, [mirror.url], ws.dir);
  const seeder = await startLibtorrentSeeder(torrentFile.path, payload.root);
  ws.defer(() => seeder.stop());
  const out = await ws.folder('out');

  // Slow the peer down so it is mid-download, with requests out on started pieces, when it goes away.
  const { torrent, warnings } = await startLibraryDownload(ws, torrentFile.bytes, out, {
    peers: [{ host: '127.0.0.1', port: seeder.port }],
    downloadLimit: 256 * 1024,
  });
  await within(new Promise((resolve) => torrent.once('piece', resolve)), 20_000, 'a first piece from the peer');
  await seeder.stop();
  const fromPeer = torrent.stats().downloadedFromPeers;
  assert.ok(torrent.stats().piecesVerified < torrentFile.meta.pieceCount, 'the peer sent everything before it was stopped');

  await within(torrent.done, 60_000, 'the download');
  const stats = torrent.stats();
  assert.ok(fromPeer > 0);
  assert.ok(stats.downloadedFromWebSeeds > 0);
  assert.ok(await warningMatching(torrent, warnings, /busy \(HTTP 503\).*retrying in 2 s/));
  await assertSameFiles(out, payload);
});
