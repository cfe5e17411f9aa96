/** WebSeedSource: retry, backoff, Retry-After and giving up, against the fault server with a fake clock. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  WebSeedBusyError,
  WebSeedConnectionError,
  WebSeedFileMissingError,
  WebSeedRangeError,
  WebSeedShortBodyError,
  WebSeedUnavailableError,
} from '../../src/webseed/errors.js';
import { type WebSeedClock, WebSeedSource, type WebSeedSourceOptions } from '../../src/webseed/source.js';
import { type FaultServer, startFaultServer } from '../support/fault-server.js';
import { type Fixture, makeServedFolder, multiFileTorrent, pieceHashMatches, singleFileTorrent } from './fixture.js';

const PIECE = 16 * 1024;
const FILE = '/data.bin';

/** Sleeping advances the clock instantly and is recorded. */
class FakeClock implements WebSeedClock {
  time = Date.parse('2024-03-01T12:00:00Z');
  readonly sleeps: number[] = [];
  now(): number {
    return this.time;
  }
  async sleep(ms: number, signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    this.sleeps.push(ms);
    this.time += ms;
  }
}

interface Setup {
  server: FaultServer;
  fixture: Fixture;
  clock: FakeClock;
  warnings: string[];
  source: WebSeedSource;
}

async function setup(
  t: { after(fn: () => Promise<void>): void },
  options: WebSeedSourceOptions = {},
): Promise<Setup> {
  const folder = await makeServedFolder();
  t.after(() => folder.remove());
  const fixture = await singleFileTorrent(folder.root, 'data.bin', 4 * PIECE + 500, PIECE);
  const server = await startFaultServer(folder.root);
  t.after(() => server.close());
  const clock = new FakeClock();
  const source = new WebSeedSource(server.url, fixture.meta, { clock, ...options });
  t.after(() => source.close());
  const warnings: string[] = [];
  source.on('warning', (message) => warnings.push(message));
  return { server, fixture, clock, warnings, source };
}

test('fetchPieces returns whole pieces, the short last one included, and counts bytes', async (t) => {
  const { fixture, source, server } = await setup(t);
  assert.deepEqual(await source.fetchPieces(0, 2), fixture.data.subarray(0, 2 * PIECE));
  assert.deepEqual(await source.fetchPieces(3, 2), fixture.data.subarray(3 * PIECE));
  assert.equal(source.bytesReceived, 3 * PIECE + 500);
  assert.equal(server.requests.length, 2);
  assert.equal(source.state, 'active');
  await assert.rejects(source.fetchPieces(4, 2), RangeError);
  await assert.rejects(source.fetchPieces(-1, 1), RangeError);
});

test('piecesPerRequest sizes a fetch to maxRequestBytes', async (t) => {
  assert.equal((await setup(t)).source.piecesPerRequest, 256); // 4 MiB of 16 KiB pieces
  assert.equal((await setup(t, { maxRequestBytes: 1000 })).source.piecesPerRequest, 1);
});

test('a busy mirror is retried after its Retry-After, then succeeds', async (t) => {
  const { fixture, source, server, clock, warnings } = await setup(t);
  server.inject(FILE, { kind: 'status', status: 503, headers: { 'retry-after': '2' } });
  assert.deepEqual(await source.fetchPieces(1, 1), fixture.data.subarray(PIECE, 2 * PIECE));
  assert.deepEqual(clock.sleeps, [2000]);
  assert.equal(server.requests.length, 2);
  assert.ok(source.lastError instanceof WebSeedBusyError);
  assert.match(warnings.join('\n'), /busy \(HTTP 503\).*retrying in 2 s/);
  assert.equal(source.state, 'active');
});

test('an HTTP-date Retry-After is waited for until that time', async (t) => {
  const { fixture, source, server, clock } = await setup(t);
  server.inject(FILE, { kind: 'status', status: 429, headers: { 'retry-after': 'Fri, 01 Mar 2024 12:00:45 GMT' } });
  assert.deepEqual(await source.fetchPieces(0, 1), fixture.data.subarray(0, PIECE));
  assert.deepEqual(clock.sleeps, [45_000]);
});

test('transient failures back off exponentially and the fetch succeeds within its attempts', async (t) => {
  const { fixture, source, server, clock } = await setup(t);
  server.inject(FILE, { kind: 'reset', afterBytes: 100 }, { kind: 'short-body', bytes: 10 });
  assert.deepEqual(await source.fetchPieces(2, 1), fixture.data.subarray(2 * PIECE, 3 * PIECE));
  assert.deepEqual(clock.sleeps, [1000, 2000]);
  assert.ok(source.lastError instanceof WebSeedShortBodyError);
  assert.equal(server.requests.length, 3);
});

test('when attempts run out the last error is thrown and the mirror is in backoff', async (t) => {
  const { source, server, clock } = await setup(t, { maxAttempts: 2 });
  server.inject(FILE, { kind: 'status', status: 500 }, { kind: 'reset', afterBytes: 1 });
  await assert.rejects(source.fetchPieces(0, 1), WebSeedConnectionError);
  assert.deepEqual(clock.sleeps, [1000]);
  assert.equal(source.state, 'backoff');
  assert.equal(source.readyAt, clock.now() + 2000);
  clock.time = source.readyAt;
  assert.equal(source.state, 'active');
});

test('a fetch started during backoff waits for it first', async (t) => {
  const { fixture, source, server, clock } = await setup(t, { maxAttempts: 1 });
  server.inject(FILE, { kind: 'status', status: 502 });
  await assert.rejects(source.fetchPieces(0, 1), { name: 'WebSeedHttpError', status: 502 });
  assert.deepEqual(clock.sleeps, []);
  assert.deepEqual(await source.fetchPieces(0, 1), fixture.data.subarray(0, PIECE));
  assert.deepEqual(clock.sleeps, [1000]);
});

test('a mirror failing again and again is given up on', async (t) => {
  const { source, server, warnings } = await setup(t, { maxAttempts: 2, maxConsecutiveFailures: 3 });
  server.inject(FILE, ...Array.from({ length: 3 }, () => ({ kind: 'status', status: 503 }) as const));
  await assert.rejects(source.fetchPieces(0, 1), WebSeedBusyError);
  assert.equal(source.state, 'backoff');
  await assert.rejects(source.fetchPieces(0, 1), (error: unknown) => {
    assert.ok(error instanceof WebSeedUnavailableError);
    assert.ok(error.cause instanceof WebSeedBusyError);
    return true;
  });
  assert.equal(source.state, 'dead');
  assert.equal(source.canServe(0), false);
  assert.match(warnings.at(-1) ?? '', /giving up on web seed/);
  await assert.rejects(source.fetchPieces(1, 1), WebSeedUnavailableError);
  assert.equal(server.requests.length, 3);
});

test('a missing file is not retried', async (t) => {
  const { source, server, clock } = await setup(t);
  server.inject(FILE, { kind: 'status', status: 410 });
  await assert.rejects(source.fetchPieces(0, 1), (error: unknown) => {
    assert.ok(error instanceof WebSeedUnavailableError);
    assert.ok(error.cause instanceof WebSeedFileMissingError);
    return true;
  });
  assert.equal(server.requests.length, 1);
  assert.deepEqual(clock.sleeps, []);
  // The torrent's only file is gone, so nothing is left to fetch from this mirror.
  assert.equal(source.state, 'dead');
});

test('a missing file in a multi-file torrent spoils only its pieces', async (t) => {
  const folder = await makeServedFolder();
  t.after(() => folder.remove());
  const { meta, data } = await multiFileTorrent(
    folder.root,
    'multi',
    [
      { path: ['a'], length: PIECE },
      { path: ['b'], length: PIECE },
      { path: ['c'], length: PIECE },
    ],
    PIECE,
  );
  const server = await startFaultServer(folder.root);
  t.after(() => server.close());
  const source = new WebSeedSource(server.url, meta, { clock: new FakeClock() });
  t.after(() => source.close());
  server.inject('/multi/b', { kind: 'status', status: 404 });
  await assert.rejects(source.fetchPieces(0, 3), WebSeedUnavailableError);
  assert.deepEqual([0, 1, 2].map((piece) => source.canServe(piece)), [true, false, true]);
  await assert.rejects(source.fetchPieces(1, 1), WebSeedUnavailableError);
  assert.deepEqual(await source.fetchPieces(2, 1), data.subarray(2 * PIECE));
  assert.equal(server.requests.filter((r) => r.path === '/multi/b').length, 1);
  assert.equal(source.state, 'active');
});

test('a mirror without Range support, asked for a far range, is given up on at once', async (t) => {
  const { source, server } = await setup(t, { ignoredRangeSkipLimit: PIECE });
  server.inject(FILE, { kind: 'ignore-range' });
  await assert.rejects(source.fetchPieces(3, 1), (error: unknown) => {
    assert.ok(error instanceof WebSeedUnavailableError);
    assert.ok(error.cause instanceof WebSeedRangeError);
    assert.equal(error.cause.kind, 'unsupported');
    return true;
  });
  assert.equal(source.state, 'dead');
  assert.equal(server.requests.length, 1);
});

test('a mirror sending wrong bytes is given up on after two hash failures', async (t) => {
  const { fixture, source, server, warnings } = await setup(t);
  server.inject(FILE, { kind: 'wrong-bytes' }, { kind: 'wrong-bytes' });
  for (const piece of [0, 1]) {
    const data = await source.fetchPieces(piece, 1);
    assert.equal(pieceHashMatches(fixture.meta, piece, data), false);
    source.reportHashFailure(piece);
  }
  assert.equal(source.hashFailures, 2);
  assert.equal(source.state, 'dead');
  assert.ok(source.lastError instanceof WebSeedUnavailableError);
  assert.match(warnings[0], /piece 0 with a wrong hash \(1 of 2 allowed\)/);
  await assert.rejects(source.fetchPieces(2, 1), WebSeedUnavailableError);
  assert.ok(pieceHashMatches(fixture.meta, 2, fixture.data.subarray(2 * PIECE, 3 * PIECE)));
});

test('aborting during backoff rejects with the abort reason', async (t) => {
  const { source, server } = await setup(t, { maxAttempts: 1 });
  server.inject(FILE, { kind: 'status', status: 503 });
  await assert.rejects(source.fetchPieces(0, 1), WebSeedBusyError);
  await assert.rejects(source.fetchPieces(0, 1, AbortSignal.abort(new Error('cancelled'))), /cancelled/);
  assert.equal(server.requests.length, 1);
});
