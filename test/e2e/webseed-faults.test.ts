/**
 * Misbehaving web seeds, one failure at a time: a Node fault server is the bad mirror and, where the download
 * must still finish, Debian nginx is a good mirror beside it. With only a lying mirror the download must stop
 * making claims, say so, and never count unverified data as verified.
 */
import assert from 'node:assert/strict';
import { rm, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import test, { type TestContext } from 'node:test';
import { type Fault, type FaultServer, startFaultServer } from '../support/fault-server.js';
import { needNginx, startNginx } from '../support/nginx.js';
import {
  assertSameFiles,
  auditResume,
  cliDownload,
  copyServedFolder,
  makeTorrent,
  MULTI_FILES,
  multiFilePayload,
  runCli,
  singleFilePayload,
  startLibraryDownload,
  warningMatching,
  within,
  workspace,
  type MadeTorrent,
  type Payload,
  type Workspace,
} from './webseed-fixture.js';

interface Mirrors {
  ws: Workspace;
  payload: Payload;
  bad: FaultServer;
  torrentFile: MadeTorrent;
  out: string;
}

interface MirrorOptions {
  /** No good mirror. */
  alone?: boolean;
  /** Change the bad mirror's copy of the payload. */
  damage?: (badRoot: string, payload: Payload) => Promise<void>;
  /**
   * The good mirror is a fault server answering 503 (Retry-After: 1) to its first requests, so the bad mirror
   * works alone for a second and surely meets its damage (nginx would often fetch the damaged file first).
   */
  goodStartsBusy?: boolean;
}

/**
 * The payload served by a fault server (from `badRoot`, default the payload itself) listed first and, unless
 * `alone`, by a good mirror (nginx) second.
 */
async function mirrors(t: TestContext, kind: 'single' | 'multi', options: MirrorOptions = {}): Promise<Mirrors> {
  const ws = await workspace(t);
  const payload = kind === 'single' ? await singleFilePayload(await ws.folder('www')) : await multiFilePayload(await ws.folder('www'));
  let badRoot = payload.root;
  if (options.damage) {
    badRoot = await copyServedFolder(payload, join(ws.dir, 'bad'));
    await options.damage(badRoot, payload);
  }
  const bad = await startFaultServer(badRoot);
  ws.defer(() => bad.close());
  const urls = [bad.url];
  if (options.goodStartsBusy) {
    const good = await startFaultServer(payload.root);
    ws.defer(() => good.close());
    const busy: Fault = { kind: 'status', status: 503, headers: { 'retry-after': '1' } };
    for (const path of payload.files.keys()) good.inject(`/${path}`, busy);
    urls.push(good.url);
  } else if (!options.alone) {
    const good = await startNginx(payload.root);
    ws.defer(() => good.stop());
    urls.push(good.url);
  }
  const torrentFile = await makeTorrent(payload, urls, ws.dir);
  return { ws, payload, bad, torrentFile, out: await ws.folder('out') };
}

function requestsFor(bad: FaultServer, path: string): number {
  return bad.requests.filter((r) => r.path === path).length;
}

const singlePath = (m: Mirrors) => `/${m.payload.name}`;

// Each fault is queued for the bad mirror's first requests (one per fetch slot), then it serves normally.
const transientFaults: [string, Fault, number][] = [
  ['429 with Retry-After', { kind: 'status', status: 429, headers: { 'retry-after': '1' } }, 3],
  ['503 with Retry-After', { kind: 'status', status: 503, headers: { 'retry-after': '1' } }, 3],
  ['a stall before the response headers', { kind: 'stall' }, 3],
  ['a stall mid-body', { kind: 'stall', afterBytes: 20_000 }, 3],
  ['a connection reset mid-body', { kind: 'reset', afterBytes: 20_000 }, 3],
  ['a short body', { kind: 'short-body', bytes: 1000 }, 3],
  ['a server that ignores Range (200 with the whole file)', { kind: 'ignore-range' }, 50],
  ['wrong bytes (hash failures)', { kind: 'wrong-bytes' }, 6],
  ['a Content-Range for other bytes', { kind: 'wrong-range' }, 3],
  ['410 Gone', { kind: 'status', status: 410 }, 3],
];

for (const [name, fault, copies] of transientFaults) {
  test(`a web seed failing with ${name} beside a good one: the download completes`, { skip: needNginx() }, async (t) => {
    // Hash failures need the bad mirror's pieces to be used: nginx alone could fetch every piece before the
    // bad mirror's first answers arrive.
    const m = await mirrors(t, 'single', { goodStartsBusy: fault.kind === 'wrong-bytes' });
    m.bad.inject(singlePath(m), ...Array.from({ length: copies }, () => fault));
    const { torrent, warnings } = await startLibraryDownload(m.ws, m.torrentFile.bytes, m.out);
    // Well under the 30 s header and body timeouts: a stalled mirror's pieces are fetched again elsewhere.
    await within(torrent.done, 20_000, 'the download');
    assert.ok(m.bad.requests.some((r) => r.fault === fault.kind), 'the bad mirror was never asked');
    assert.ok(warnings.length > 0 || fault.kind === 'stall' || fault.kind === 'ignore-range', 'no warning about the bad mirror');
    await assertSameFiles(m.out, m.payload);
  });
}

test('a web seed lacking one file (404) serves the others and is never asked for it again', async (t) => {
  const missing = MULTI_FILES[2].path;
  const m = await mirrors(t, 'multi', { goodStartsBusy: true, damage: (root, payload) => rm(join(root, payload.name, ...missing)) });
  const { torrent, warnings } = await startLibraryDownload(m.ws, m.torrentFile.bytes, m.out);
  await within(torrent.done, 20_000, 'the download');
  const missingPath = `/${[m.payload.name, ...missing].join('/')}`;
  // At most the first request of each fetch slot can be in flight before the 404 is known.
  assert.ok(requestsFor(m.bad, missingPath) <= 3, `asked ${requestsFor(m.bad, missingPath)} times for the missing file`);
  assert.ok(m.bad.requests.some((r) => r.path !== missingPath), 'the bad mirror served nothing else');
  assert.ok(warnings.some((w) => /does not have .* \(HTTP 404\); not using this web seed for that file/.test(w)), warnings.join('\n'));
  await assertSameFiles(m.out, m.payload);
});

test('a web seed with a truncated file (416 / wrong size) serves the others', async (t) => {
  const short = MULTI_FILES[1].path;
  const m = await mirrors(t, 'multi', { goodStartsBusy: true, damage: (root, payload) => truncate(join(root, payload.name, ...short), 100_000) });
  const { torrent, warnings } = await startLibraryDownload(m.ws, m.torrentFile.bytes, m.out);
  await within(torrent.done, 20_000, 'the download');
  const shortPath = `/${[m.payload.name, ...short].join('/')}`;
  assert.ok(requestsFor(m.bad, shortPath) <= 3, `asked ${requestsFor(m.bad, shortPath)} times for the short file`);
  assert.ok(warnings.some((w) => /HTTP 416|a file of 100000 bytes|bytes \d+-99999 instead of/.test(w)), warnings.join('\n'));
  await assertSameFiles(m.out, m.payload);
});

test('a lone web seed lacking one file: every other piece arrives, the gap is reported, no claim loop', async (t) => {
  const missing = MULTI_FILES[2].path;
  const m = await mirrors(t, 'multi', { alone: true, damage: (root, payload) => rm(join(root, payload.name, ...missing)) });
  const { torrent, warnings, client, stateDir } = await startLibraryDownload(m.ws, m.torrentFile.bytes, m.out);
  const gap = await within(warningMatching(torrent, warnings, /missing pieces are on no web seed/), 20_000, 'the gap warning');
  const missingPieces = Number(/^(\d+) /.exec(gap)?.[1]);
  const meta = m.torrentFile.meta;
  const file = meta.files.find((f) => f.path.at(-1) === missing.at(-1))!;
  const expectedGap = Math.floor((file.offset + file.length - 1) / meta.pieceLength) - Math.floor(file.offset / meta.pieceLength) + 1;
  assert.equal(missingPieces, expectedGap);
  // Every piece the mirror can serve gets verified; then the mirror sits idle instead of re-asking.
  const servable = meta.pieceCount - expectedGap;
  await within(
    new Promise<void>((resolve) => {
      const check = () => torrent.stats().piecesVerified === servable && resolve();
      check();
      torrent.on('piece', check);
    }),
    20_000,
    'every servable piece',
  );
  const missingPath = `/${[m.payload.name, ...missing].join('/')}`;
  const before = m.bad.requests.length;
  await new Promise((resolve) => setTimeout(resolve, 1500));
  assert.equal(m.bad.requests.length, before, 'the mirror was asked again with nothing it can serve');
  assert.ok(requestsFor(m.bad, missingPath) <= 3);
  assert.equal(torrent.state.status, 'downloading');
  await client.destroy();
  assert.deepEqual(await auditResume(stateDir, meta, m.out), { trusted: servable, wrong: 0 });
});

test('a web seed that is busy (503, Retry-After) at first, alone, is waited for, not given up on', async (t) => {
  const m = await mirrors(t, 'single', { alone: true });
  const busy: Fault = { kind: 'status', status: 503, headers: { 'retry-after': '1' } };
  m.bad.inject(singlePath(m), busy, busy, busy);
  const started = Date.now();
  const { torrent, warnings } = await startLibraryDownload(m.ws, m.torrentFile.bytes, m.out);
  await within(torrent.done, 20_000, 'the download');
  assert.ok(Date.now() - started >= 900, 'Retry-After was not honoured');
  assert.ok(warnings.some((w) => /busy \(HTTP 503\).*retrying in 1 s/.test(w)), warnings.join('\n'));
  await assertSameFiles(m.out, m.payload);
});

test('library: with only a lying web seed the torrent says no web seed is left and verifies nothing', async (t) => {
  const m = await mirrors(t, 'single', { alone: true });
  m.bad.inject(singlePath(m), ...Array.from({ length: 1000 }, (): Fault => ({ kind: 'wrong-bytes' })));
  const { torrent, warnings, client, stateDir } = await startLibraryDownload(m.ws, m.torrentFile.bytes, m.out);
  await within(warningMatching(torrent, warnings, /no usable web seed left/), 20_000, 'giving up on the liar');
  assert.ok(warnings.some((w) => /giving up on web seed .*corrupt data/.test(w)), warnings.join('\n'));
  const stats = torrent.stats();
  assert.equal(stats.piecesVerified, 0);
  assert.equal(stats.webSeeds, 0);
  assert.equal(torrent.state.status, 'downloading');
  // Given up on for good: once requests sent just before have landed, no more.
  await new Promise((resolve) => setTimeout(resolve, 300));
  const asked = m.bad.requests.length;
  await new Promise((resolve) => setTimeout(resolve, 700));
  assert.equal(m.bad.requests.length, asked);
  await client.destroy();
  assert.deepEqual(await auditResume(stateDir, m.torrentFile.meta, m.out), { trusted: 0, wrong: 0 });

  // A fresh check of whatever reached the disk finds no good piece either.
  const recheck = await startLibraryDownload(m.ws, m.torrentFile.bytes, m.out, { webSeeds: false });
  await within(new Promise<void>((resolve) => (recheck.torrent.state.status === 'downloading' ? resolve() : recheck.torrent.once('state', () => resolve()))), 20_000, 'the recheck');
  assert.equal(recheck.torrent.stats().piecesVerified, 0);
});

test('CLI: with only a lying web seed the download fails in bounded time and resume data trusts nothing', async (t) => {
  const m = await mirrors(t, 'single', { alone: true });
  m.bad.inject(singlePath(m), ...Array.from({ length: 1000 }, (): Fault => ({ kind: 'wrong-bytes' })));
  const state = await m.ws.folder('state');
  const run = await runCli([...cliDownload(m.torrentFile.path, m.out, state), '--timeout', '2'], 40_000);
  assert.equal(run.code, 1, run.stdout);
  assert.match(run.stderr, /no peers found within 2 s/);
  const warnings = run.events.filter((e) => e.event === 'warning').map((e) => String(e.message));
  assert.ok(warnings.some((w) => /giving up on web seed .*corrupt data/.test(w)), warnings.join('\n'));
  assert.ok(warnings.some((w) => /no usable web seed left/.test(w)), warnings.join('\n'));
  assert.ok(!run.events.some((e) => e.event === 'done'));
  assert.deepEqual(await auditResume(state, m.torrentFile.meta, m.out), { trusted: 0, wrong: 0 });
});
