/** One WebSeed attempt against a misbehaving server: each fault becomes the right typed error. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  WebSeedBusyError,
  WebSeedConnectionError,
  WebSeedFileMissingError,
  WebSeedHttpError,
  WebSeedRangeError,
  WebSeedRedirectError,
  WebSeedShortBodyError,
  WebSeedTimeoutError,
} from '../../src/webseed/errors.js';
import { WebSeed, parseRetryAfter } from '../../src/webseed/webseed.js';
import { startFaultServer } from '../support/fault-server.js';
import { faultServed, makeServedFolder, multiFileTorrent, singleFileTorrent } from './fixture.js';

const PIECE = 16 * 1024;
const FILE = '/data.bin';

const setup = (t: { after(fn: () => Promise<void>): void }) => faultServed(t, 4 * PIECE, PIECE);

test('a plain ranged fetch sends one Range request', async (t) => {
  const { server, fixture, seed } = await setup(t);
  assert.deepEqual(await seed().fetchRange(PIECE, PIECE), fixture.data.subarray(PIECE, 2 * PIECE));
  assert.deepEqual(server.requests, [{ path: FILE, range: `bytes=${PIECE}-${2 * PIECE - 1}`, fault: undefined }]);
});

test('404 and 410 mean the file is missing on this mirror', async (t) => {
  const { server, seed } = await setup(t);
  server.inject(FILE, { kind: 'status', status: 404 }, { kind: 'status', status: 410 });
  for (const status of [404, 410]) {
    await assert.rejects(seed().fetchRange(0, 10), (error: unknown) => {
      assert.ok(error instanceof WebSeedFileMissingError);
      assert.equal(error.status, status);
      assert.equal(error.fileIndex, 0);
      assert.equal(error.url, server.url + 'data.bin');
      return true;
    });
  }
});

test('416, or a range past the real end of the file, is a range error', async (t) => {
  const { server, fixture, seed } = await setup(t);
  server.inject(FILE, { kind: 'status', status: 416 });
  await assert.rejects(seed().fetchRange(0, 10), { name: 'WebSeedRangeError', kind: 'not-satisfiable' });

  // The torrent claims a longer file than the mirror has: the server itself answers 416 past its end...
  const longer = { ...fixture.meta, totalLength: 5 * PIECE, files: [{ ...fixture.meta.files[0], length: 5 * PIECE }] };
  const lying = new WebSeed(server.url, longer);
  t.after(() => lying.close());
  await assert.rejects(lying.fetchRange(4 * PIECE + 1, 10), { name: 'WebSeedRangeError', kind: 'not-satisfiable' });
  // ...and a range straddling its end comes back shorter, with the real size in Content-Range.
  await assert.rejects(lying.fetchRange(3 * PIECE, 2 * PIECE), (error: unknown) => {
    assert.ok(error instanceof WebSeedRangeError);
    assert.equal(error.kind, 'mismatch');
    return true;
  });
  await assert.rejects(lying.fetchRange(0, 10), (error: unknown) => {
    assert.ok(error instanceof WebSeedRangeError);
    assert.equal(error.kind, 'mismatch');
    assert.match(error.message, new RegExp(`file of ${4 * PIECE} bytes where the torrent has ${5 * PIECE}`));
    return true;
  });
});

test('a 206 naming another range is a mismatch', async (t) => {
  const { server, seed } = await setup(t);
  server.inject(FILE, { kind: 'wrong-range' });
  await assert.rejects(seed().fetchRange(100, 10), { name: 'WebSeedRangeError', kind: 'mismatch' });
});

test('429 and 503 are busy errors carrying Retry-After in seconds or as an HTTP date', async (t) => {
  const { server, seed } = await setup(t);
  const now = Date.parse('2024-03-01T12:00:00Z');
  server.inject(
    FILE,
    { kind: 'status', status: 429, headers: { 'retry-after': '7' } },
    { kind: 'status', status: 503, headers: { 'retry-after': 'Fri, 01 Mar 2024 12:01:30 GMT' } },
    { kind: 'status', status: 503 },
  );
  const webSeed = seed({ now: () => now });
  for (const [status, retryAfterMs] of [
    [429, 7000],
    [503, 90_000],
    [503, undefined],
  ]) {
    await assert.rejects(webSeed.fetchRange(0, 10), (error: unknown) => {
      assert.ok(error instanceof WebSeedBusyError);
      assert.equal(error.status, status);
      assert.equal(error.retryAfterMs, retryAfterMs);
      return true;
    });
  }
});

test('Retry-After parsing', () => {
  const now = Date.parse('2024-03-01T12:00:00Z');
  assert.equal(parseRetryAfter('0', now), 0);
  assert.equal(parseRetryAfter(' 120 ', now), 120_000);
  assert.equal(parseRetryAfter('Fri, 01 Mar 2024 12:00:10 GMT', now), 10_000);
  assert.equal(parseRetryAfter('Fri, 01 Mar 2024 11:00:00 GMT', now), 0);
  assert.equal(parseRetryAfter('1.5', now), undefined);
  assert.equal(parseRetryAfter('-3', now), undefined);
  assert.equal(parseRetryAfter('soon', now), undefined);
  assert.equal(parseRetryAfter(undefined, now), undefined);
});

test('other statuses are plain HTTP errors', async (t) => {
  const { server, seed } = await setup(t);
  server.inject(FILE, { kind: 'status', status: 500 }, { kind: 'status', status: 403 });
  for (const status of [500, 403]) {
    await assert.rejects(seed().fetchRange(0, 10), (error: unknown) => {
      assert.ok(error instanceof WebSeedHttpError);
      assert.equal(error.name, 'WebSeedHttpError');
      assert.equal(error.status, status);
      return true;
    });
  }
});

test('a server ignoring Range is used near the start of a file only', async (t) => {
  const { server, fixture, seed } = await setup(t);
  server.inject(FILE, { kind: 'ignore-range' }, { kind: 'ignore-range' });
  const webSeed = seed({ ignoredRangeSkipLimit: PIECE });
  assert.deepEqual(await webSeed.fetchRange(PIECE, 100), fixture.data.subarray(PIECE, PIECE + 100));
  await assert.rejects(webSeed.fetchRange(PIECE + 1, 100), { name: 'WebSeedRangeError', kind: 'unsupported' });
  assert.equal(server.requests.length, 2);
});

test('a body that ends early is a short body error', async (t) => {
  const { server, seed } = await setup(t);
  server.inject(FILE, { kind: 'short-body', bytes: 1000 });
  await assert.rejects(seed().fetchRange(0, PIECE), (error: unknown) => {
    assert.ok(error instanceof WebSeedShortBodyError);
    assert.equal(error.expected, PIECE);
    assert.equal(error.received, 1000);
    return true;
  });
});

test('a connection reset mid-body is a connection error', async (t) => {
  const { server, seed } = await setup(t);
  server.inject(FILE, { kind: 'reset', afterBytes: 5000 });
  await assert.rejects(seed().fetchRange(0, 2 * PIECE), WebSeedConnectionError);
});

test('no headers, or a body that stops flowing, time out', async (t) => {
  const { server, seed } = await setup(t);
  server.inject(FILE, { kind: 'stall' }, { kind: 'stall', afterBytes: 100 });
  const webSeed = seed({ headersTimeoutMs: 200, bodyTimeoutMs: 200 });
  await assert.rejects(webSeed.fetchRange(0, PIECE), (error: unknown) => {
    assert.ok(error instanceof WebSeedTimeoutError);
    assert.equal(error.phase, 'headers');
    return true;
  });
  await assert.rejects(webSeed.fetchRange(0, PIECE), (error: unknown) => {
    assert.ok(error instanceof WebSeedTimeoutError);
    assert.equal(error.phase, 'body');
    return true;
  });
});

test('a refused connection is a connection error', async (t) => {
  const { server, fixture } = await setup(t);
  const url = server.url;
  await server.close();
  const seed = new WebSeed(url, fixture.meta);
  t.after(() => seed.close());
  await assert.rejects(seed.fetchRange(0, 10), WebSeedConnectionError);
});

test('redirects are followed, relative and to another server, with the Range kept', async (t) => {
  const { server, fixture, seed } = await setup(t);
  const folder = await makeServedFolder();
  t.after(() => folder.remove());
  const mirror = await singleFileTorrent(folder.root, 'moved.bin', 4 * PIECE, PIECE);
  const other = await startFaultServer(folder.root);
  t.after(() => other.close());
  // Mirror networks send each download to a data node: here /data.bin → /elsewhere → other server.
  server.inject(FILE, { kind: 'redirect', status: 302, location: '/elsewhere' });
  server.inject('/elsewhere', { kind: 'redirect', status: 307, location: `${other.url}moved.bin` });
  assert.deepEqual(await seed().fetchRange(100, 200), mirror.data.subarray(100, 300));
  assert.deepEqual(
    [...server.requests, ...other.requests].map((r) => [r.path, r.range]),
    [
      [FILE, 'bytes=100-299'],
      ['/elsewhere', 'bytes=100-299'],
      ['/moved.bin', 'bytes=100-299'],
    ],
  );
  assert.notDeepEqual(mirror.data.subarray(100, 300), fixture.data.subarray(100, 300));
});

test('too many redirects, or a redirect to another scheme, is a redirect error', async (t) => {
  const { server, seed } = await setup(t);
  server.inject(FILE, ...Array.from({ length: 3 }, () => ({ kind: 'redirect', status: 301, location: FILE }) as const));
  await assert.rejects(seed({ maxRedirects: 2 }).fetchRange(0, 10), WebSeedRedirectError);
  assert.equal(server.requests.length, 3);
  server.inject(FILE, { kind: 'redirect', status: 308, location: 'ftp://127.0.0.1/data.bin' });
  await assert.rejects(seed().fetchRange(0, 10), /unsupported ftp: URL/);
});

test('an aborted fetch rejects with the abort reason', async (t) => {
  const { server, seed } = await setup(t);
  server.inject(FILE, { kind: 'stall', afterBytes: 10 });
  const controller = new AbortController();
  const fetching = seed().fetchRange(0, PIECE, controller.signal);
  setTimeout(() => controller.abort(new Error('stop now')), 50);
  await assert.rejects(fetching, /stop now/);
});

test('a range over several files stops the other requests when one fails', async (t) => {
  const folder = await makeServedFolder();
  t.after(() => folder.remove());
  const { meta } = await multiFileTorrent(
    folder.root,
    'multi',
    [
      { path: ['one'], length: 100 },
      { path: ['two'], length: 100 },
    ],
    PIECE,
  );
  const server = await startFaultServer(folder.root);
  t.after(() => server.close());
  server.inject('/multi/one', { kind: 'stall', afterBytes: 10 });
  server.inject('/multi/two', { kind: 'status', status: 404 });
  const seed = new WebSeed(server.url, meta, { bodyTimeoutMs: 60_000 });
  t.after(() => seed.close());
  // Without aborting the stalled request this would wait for the 60 s body timeout.
  await assert.rejects(seed.fetchRange(0, 200), (error: unknown) => {
    assert.ok(error instanceof WebSeedFileMissingError);
    assert.equal(error.fileIndex, 1);
    return true;
  });
});
