/** A WebSeed's connections: keep-alive reuse, a shared pool, what closes them, https, and process exit. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { type Socket, createServer } from 'node:net';
import { test } from 'node:test';
import { WebSeedConnectionError, WebSeedFileMissingError, WebSeedTimeoutError } from '../../src/webseed/errors.js';
import { HttpConnectionPool } from '../../src/http/index.js';
import { createWebSeedConnections } from '../../src/webseed/index.js';
import { WebSeed } from '../../src/webseed/webseed.js';
import { until } from '../e2e/seed-harness.js';
import { startFaultServer } from '../support/fault-server.js';
import { needOpenssl, selfSignedCertificate } from '../support/tls.js';
import { faultServed, makeServedFolder } from './fixture.js';

const PIECE = 16 * 1024;
const FILE = '/data.bin';

type TestHooks = { after(fn: () => Promise<void> | void): void };

const setup = (t: TestHooks) => faultServed(t, 4 * PIECE, PIECE);

function destroyedAfter(t: TestHooks, pool: HttpConnectionPool): HttpConnectionPool {
  t.after(() => pool.destroy());
  return pool;
}

test('one connection serves fetch after fetch, error answers and redirects included', async (t) => {
  const { server, fixture, seed } = await setup(t);
  server.inject(FILE, { kind: 'status', status: 404 }, { kind: 'redirect', status: 302, location: FILE });
  const webSeed = seed();
  await assert.rejects(webSeed.fetchRange(0, 10), WebSeedFileMissingError);
  assert.deepEqual(await webSeed.fetchRange(0, PIECE), fixture.data.subarray(0, PIECE));
  assert.deepEqual(await webSeed.fetchRange(PIECE, PIECE), fixture.data.subarray(PIECE, 2 * PIECE));
  assert.equal(server.requests.length, 4);
  assert.deepEqual(server.connections(), { accepted: 1, open: 1 });
});

test('connectionsPerHost bounds the parallel connections', async (t) => {
  const { server, fixture, seed } = await setup(t);
  const webSeed = seed({ connectionsPerHost: 2 });
  const pieces = await Promise.all([0, 1, 2, 3].map((piece) => webSeed.fetchRange(piece * PIECE, PIECE)));
  assert.deepEqual(Buffer.concat(pieces), fixture.data);
  assert.equal(server.connections().accepted, 2);
});

test('WebSeeds given the same pool share its connections, and close() leaves them open', async (t) => {
  const { server, fixture, seed } = await setup(t);
  const connections = destroyedAfter(t, createWebSeedConnections({ connectionsPerHost: 1 }));
  const [first, second] = [seed({ connections }), seed({ connections })];
  assert.deepEqual(await first.fetchRange(0, PIECE), fixture.data.subarray(0, PIECE));
  assert.deepEqual(await second.fetchRange(PIECE, PIECE), fixture.data.subarray(PIECE, 2 * PIECE));
  await first.close();
  await second.close();
  assert.deepEqual(await seed({ connections }).fetchRange(2 * PIECE, PIECE), fixture.data.subarray(2 * PIECE, 3 * PIECE));
  assert.deepEqual(server.connections(), { accepted: 1, open: 1 });
});

test('close() ends the connections of the pool it made', async (t) => {
  const { server, seed } = await setup(t);
  const webSeed = seed();
  await webSeed.fetchRange(0, PIECE);
  assert.equal(server.connections().open, 1);
  await webSeed.close();
  await until(() => server.connections().open === 0, 5000, () => 'the connection to close');
});

test('an aborted fetch takes its connection down; the next fetch opens another', async (t) => {
  const { server, fixture, seed } = await setup(t);
  server.inject(FILE, { kind: 'stall', afterBytes: 10 });
  const webSeed = seed();
  const controller = new AbortController();
  const fetching = webSeed.fetchRange(0, PIECE, controller.signal);
  await until(() => server.requests.length === 1, 5000, () => 'the request');
  controller.abort(new Error('stop now'));
  await assert.rejects(fetching, /stop now/);
  await until(() => server.connections().open === 0, 5000, () => 'the aborted connection to close');
  assert.deepEqual(await webSeed.fetchRange(0, 10), fixture.data.subarray(0, 10));
  assert.equal(server.connections().accepted, 2);
});

test('https connections use the TLS settings of the pool', { skip: needOpenssl() }, async (t) => {
  const tls = await selfSignedCertificate();
  const { server, fixture, seed } = await faultServed(t, 4 * PIECE, PIECE, { tls });
  assert.match(server.url, /^https:/);
  // No default CA trusts a self-signed certificate: without a pool that does, the connection fails.
  await assert.rejects(seed().fetchRange(0, 10), WebSeedConnectionError);
  const connections = destroyedAfter(t, new HttpConnectionPool({ idleTimeoutMs: 10_000, tls: { ca: tls.cert } }));
  const webSeed = seed({ connections });
  assert.deepEqual(await webSeed.fetchRange(0, PIECE), fixture.data.subarray(0, PIECE));
  assert.deepEqual(await webSeed.fetchRange(PIECE, PIECE), fixture.data.subarray(PIECE, 2 * PIECE));
  assert.equal(server.connections().accepted, 2);
});

test('a TLS handshake that never completes is a connect timeout', async (t) => {
  const { fixture } = await setup(t);
  // Takes the TCP connection and never answers the TLS hello.
  const sockets = new Set<Socket>();
  const silent = createServer((socket) => sockets.add(socket));
  silent.listen(0, '127.0.0.1');
  await once(silent, 'listening');
  t.after(() => {
    for (const socket of sockets) socket.destroy();
    silent.close();
  });
  const { port } = silent.address() as { port: number };
  const webSeed = new WebSeed(`https://127.0.0.1:${port}/`, fixture.meta, { connectTimeoutMs: 200 });
  t.after(() => webSeed.close());
  await assert.rejects(webSeed.fetchRange(0, 10), (error: unknown) => {
    assert.ok(error instanceof WebSeedTimeoutError);
    assert.equal(error.phase, 'connect');
    return true;
  });
});

test('idle keep-alive connections do not keep the process alive', async (t) => {
  const folder = await makeServedFolder();
  t.after(() => folder.remove());
  const server = await startFaultServer(folder.root);
  t.after(() => server.close());
  // A process that fetches a piece and leaves its WebSeed open, the connection idle in the pool.
  const script = `
    const { WebSeed } = await import(${JSON.stringify(new URL('../../src/webseed/webseed.js', import.meta.url).href)});
    const { singleFileTorrent } = await import(${JSON.stringify(new URL('./fixture.js', import.meta.url).href)});
    const { meta } = await singleFileTorrent(process.argv[2], 'data.bin', ${4 * PIECE}, ${PIECE});
    await new WebSeed(process.argv[1], meta).fetchRange(0, ${PIECE});
    console.log('fetched');
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script, server.url, folder.root], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  t.after(() => clearTimeout(killer));
  let fetched: { at: number; open: number } | undefined;
  child.stdout.setEncoding('utf8').on('data', (text: string) => {
    if (text.includes('fetched')) fetched = { at: Date.now(), open: server.connections().open };
  });
  const [code] = (await once(child, 'close')) as [number | null];
  assert.equal(code, 0);
  assert.equal(fetched?.open, 1, 'no idle connection after the fetch');
  // The pool keeps an idle connection 30 s and the server 75 s: exiting sooner means it was not waited for.
  const lingered = Date.now() - fetched.at;
  assert.ok(lingered < 5000, `exited ${lingered} ms after the fetch`);
});
