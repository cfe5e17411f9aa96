/**
 * BEP 19 web seeds end to end, happy path: Debian nginx serves the payload on 127.0.0.1, a trackerless torrent
 * names it in url-list, and the library Client or the CLI downloads it with no peer at all.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import test, { type TestContext } from 'node:test';
import { bytesToText, decode, getList, isDict } from '../../src/bencode/index.js';
import { needNginx, startNginx } from '../support/nginx.js';
import {
  assertSameFiles,
  cliDownload,
  auditResume,
  lastProgress,
  makeTorrent,
  multiFilePayload,
  runCli,
  singleFilePayload,
  startLibraryDownload,
  within,
  workspace,
  type Payload,
} from './webseed-fixture.js';

const kinds: [string, (root: string) => Promise<Payload>][] = [
  ['single-file', (root) => singleFilePayload(root)],
  ['multi-file', (root) => multiFilePayload(root)],
];

/** A payload served by a throwaway nginx, its trackerless torrent naming that web seed, and an empty `out`. */
async function servedByNginx(t: TestContext, makePayload: (root: string) => Promise<Payload>) {
  const ws = await workspace(t);
  const payload = await makePayload(await ws.folder('www'));
  const nginx = await startNginx(payload.root);
  ws.defer(() => nginx.stop());
  const torrentFile = await makeTorrent(payload, [nginx.url], ws.dir);
  return { ws, payload, torrentFile, out: await ws.folder('out') };
}

for (const [kind, makePayload] of kinds) {
  test(`library: a ${kind} torrent downloads from an nginx web seed alone`, { skip: needNginx() }, async (t) => {
    const { ws, payload, torrentFile, out } = await servedByNginx(t, makePayload);

    const { torrent, warnings, client, stateDir } = await startLibraryDownload(ws, torrentFile.bytes, out);
    await within(torrent.done, 60_000, 'the download');

    const stats = torrent.stats();
    assert.equal(stats.state, 'seeding');
    assert.equal(stats.piecesVerified, torrentFile.meta.pieceCount);
    assert.ok(stats.downloadedFromWebSeeds >= torrentFile.meta.totalLength, `web seed bytes ${stats.downloadedFromWebSeeds}`);
    assert.equal(stats.downloadedFromPeers, 0);
    assert.deepEqual(warnings, []);
    await client.destroy();
    await assertSameFiles(out, payload);
    assert.deepEqual(await auditResume(stateDir, torrentFile.meta, out), { trusted: torrentFile.meta.pieceCount, wrong: 0 });
  });

  test(`CLI: a ${kind} torrent downloads from an nginx web seed alone, reporting web seed bytes`, { skip: needNginx() }, async (t) => {
    const { ws, payload, torrentFile, out } = await servedByNginx(t, makePayload);
    const state = await ws.folder('state');

    const run = await runCli(cliDownload(torrentFile.path, out, state));
    assert.equal(run.code, 0, run.stderr);
    const done = run.events.find((e) => e.event === 'done');
    assert.deepEqual(done && { verifiedBytes: done.verifiedBytes, pieces: done.pieces }, {
      verifiedBytes: torrentFile.meta.totalLength,
      pieces: torrentFile.meta.pieceCount,
    });
    const last = lastProgress(run);
    assert.equal(last.state, 'seeding');
    assert.equal(last.webSeeds, 1);
    assert.ok(last.downloadedFromWebSeeds >= torrentFile.meta.totalLength, `web seed bytes ${last.downloadedFromWebSeeds}`);
    assert.equal(last.downloadedFromPeers, 0);
    assert.deepEqual(run.events.filter((e) => e.event === 'warning'), []);
    await assertSameFiles(out, payload);
  });
}

test('CLI: torrent create --web-seed writes url-list and torrent info lists it', async (t) => {
  const ws = await workspace(t);
  const payload = await multiFilePayload(await ws.folder('www'));
  const torrentPath = join(ws.dir, 'made.torrent');
  const seeds = ['http://127.0.0.1:8080/mirror/', 'https://127.0.0.1/other path/'];
  const create = await runCli(['create', join(payload.root, payload.name), '-o', torrentPath, '--web-seed', seeds[0], '--web-seed', seeds[1], '--piece-length', '32k', '--json']);
  assert.equal(create.code, 0, create.stderr);
  const root = decode(await readFile(torrentPath)).value;
  assert.ok(isDict(root));
  assert.deepEqual(getList(root, 'url-list')?.map((url) => bytesToText(url as Uint8Array)), seeds);

  const json = await runCli(['info', torrentPath, '--json']);
  assert.equal(json.code, 0, json.stderr);
  assert.deepEqual(json.events[0].webSeeds, seeds);

  const text = await runCli(['info', torrentPath]);
  assert.equal(text.code, 0, text.stderr);
  const lines = text.stdout.split('\n');
  const header = lines.findIndex((line) => line.startsWith('web seeds:'));
  assert.ok(header >= 0, text.stdout);
  assert.deepEqual(lines.slice(header + 1, header + 3).map((line) => line.trim()), seeds);
});

test('CLI: --no-web-seeds leaves a web-seed-only torrent with no source, so it ends with the no-peers error', { skip: needNginx() }, async (t) => {
  const ws = await workspace(t);
  const payload = await singleFilePayload(await ws.folder('www'), 200_000);
  const nginx = await startNginx(payload.root);
  ws.defer(() => nginx.stop());
  const torrentFile = await makeTorrent(payload, [nginx.url], ws.dir);
  const out = await ws.folder('out');
  const state = await ws.folder('state');

  const run = await runCli([...cliDownload(torrentFile.path, out, state), '--no-web-seeds', '--timeout', '2'], 30_000);
  assert.equal(run.code, 1, run.stdout);
  assert.match(run.stderr, /no peers found within 2 s/);
  const last = lastProgress(run);
  assert.equal(last.downloadedFromWebSeeds, 0);
  assert.equal(last.piecesVerified, 0);
});
