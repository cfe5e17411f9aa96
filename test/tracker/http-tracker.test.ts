import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encode } from '../../src/bencode/index.js';
import { HttpTracker } from '../../src/tracker/http-tracker.js';
import { parseAnnounceQuery } from '../../src/tracker/http-codec.js';
import { createTracker } from '../../src/tracker/create.js';
import { UdpTracker } from '../../src/tracker/udp-tracker.js';
import { TrackerFailure, TrackerProtocolError, TrackerRequestError, UnsupportedTrackerError } from '../../src/tracker/errors.js';
import type { AnnounceParams } from '../../src/tracker/types.js';
import { needOpenssl, selfSignedCertificate } from '../support/tls.js';

const params: AnnounceParams = {
  infoHash: Uint8Array.from({ length: 20 }, (_, i) => i * 13),
  peerId: new TextEncoder().encode('-TS0001-+ +%&=?#/abc'),
  port: 6881,
  uploaded: 10,
  downloaded: 20,
  left: 30,
  event: 'started',
};

/** An HTTP server on loopback that hands each request to the test. */
async function httpServer(handle: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ base: string; requests: string[]; server: Server }> {
  const requests: string[] = [];
  const server = createServer((req, res) => {
    requests.push(req.url ?? '');
    handle(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests, server };
}

function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

const ok = encode({ interval: 120, 'min interval': 60, peers: Uint8Array.of(127, 0, 0, 1, 0x1a, 0xe1) });

test('announces with a binary-safe query the server decodes exactly', async (t) => {
  const { base, requests, server } = await httpServer((_req, res) => res.end(ok));
  t.after(() => closeServer(server));
  const result = await new HttpTracker(`${base}/announce?passkey=s3cr3t`).announce(params);
  assert.deepEqual(result, { interval: 120, minInterval: 60, peers: [{ host: '127.0.0.1', port: 6881 }] });
  const [path, query] = requests[0].split('?');
  assert.equal(path, '/announce');
  assert.ok(query.startsWith('passkey=s3cr3t&info_hash='));
  const parsed = parseAnnounceQuery(query);
  assert.deepEqual(parsed.infoHash, params.infoHash);
  assert.deepEqual(parsed.peerId, params.peerId);
  assert.equal(parsed.event, 'started');
});

test("the tracker's failure reason is surfaced, also with an error status", async (t) => {
  let status = 200;
  const { base, server } = await httpServer((_req, res) => {
    res.statusCode = status;
    res.end(encode({ 'failure reason': 'unregistered torrent' }));
  });
  t.after(() => closeServer(server));
  const tracker = new HttpTracker(`${base}/announce`);
  await assert.rejects(tracker.announce(params), (e: unknown) => e instanceof TrackerFailure && e.reason === 'unregistered torrent');
  status = 403;
  await assert.rejects(tracker.announce(params), (e: unknown) => e instanceof TrackerFailure && e.reason === 'unregistered torrent');
});

test('an error status without a failure reason is a request error; garbage is a protocol error', async (t) => {
  let reply: [number, string] = [502, '<html>bad gateway</html>'];
  const { base, server } = await httpServer((_req, res) => {
    res.statusCode = reply[0];
    res.end(reply[1]);
  });
  t.after(() => closeServer(server));
  const tracker = new HttpTracker(`${base}/announce`);
  await assert.rejects(tracker.announce(params), (e: unknown) => e instanceof TrackerRequestError && /502/.test(e.message));
  reply = [200, '<html>not bencode</html>'];
  await assert.rejects(tracker.announce(params), TrackerProtocolError);
});

test('follows a few redirects, not endless ones', async (t) => {
  const { base, requests, server } = await httpServer((req, res) => {
    const hops = Number(/^\/hop(\d+)/.exec(req.url ?? '')?.[1] ?? -1);
    if (hops > 0) {
      res.writeHead(302, { location: `/hop${hops - 1}${(req.url ?? '').slice(req.url!.indexOf('?'))}` }).end();
    } else res.end(ok);
  });
  t.after(() => closeServer(server));
  const result = await new HttpTracker(`${base}/hop3`, { maxRedirections: 3 }).announce(params);
  assert.equal(result.interval, 120);
  assert.equal(requests.length, 4);
  assert.ok(requests[3].startsWith('/hop0?info_hash='));
  await assert.rejects(new HttpTracker(`${base}/hop4`, { maxRedirections: 3 }).announce(params), TrackerRequestError);
});

test('every redirect status is followed, the Location resolved against the URL that answered', async (t) => {
  const hops: Record<string, [number, string]> = {};
  const { base, requests, server } = await httpServer((req, res) => {
    const hop = hops[(req.url ?? '').split('?')[0]];
    if (hop) res.writeHead(hop[0], { location: hop[1] }).end();
    else res.end(ok);
  });
  t.after(() => closeServer(server));
  Object.assign(hops, {
    '/a/announce': [301, 'b'],
    '/a/b': [303, '../c?x=1'],
    '/c': [307, `//${new URL(base).host}/d`],
    '/d': [308, `${base}/e#fragment`],
  });
  const result = await new HttpTracker(`${base}/a/announce`, { maxRedirections: 4 }).announce(params);
  assert.equal(result.interval, 120);
  assert.deepEqual(requests.slice(1), ['/a/b', '/c?x=1', '/d', '/e']);
});

test('a redirect to another scheme or without a Location is a request error saying so', async (t) => {
  let location: string | undefined = 'udp://127.0.0.1:6969/announce';
  const { base, server } = await httpServer((_req, res) => res.writeHead(302, location === undefined ? {} : { location }).end());
  t.after(() => closeServer(server));
  const tracker = new HttpTracker(`${base}/announce`);
  await assert.rejects(tracker.announce(params), (e: unknown) => e instanceof TrackerRequestError && /unsupported udp: URL/.test(e.message));
  location = undefined;
  await assert.rejects(tracker.announce(params), (e: unknown) => e instanceof TrackerRequestError && /without a Location/.test(e.message));
});

test('the request asks for an uncompressed answer and names the client', async (t) => {
  const headers: IncomingMessage['headers'][] = [];
  const { base, server } = await httpServer((req, res) => {
    headers.push(req.headers);
    res.end(ok);
  });
  t.after(() => closeServer(server));
  await new HttpTracker(`${base}/announce`).announce(params);
  await new HttpTracker(`${base}/announce`, { userAgent: 'test-agent/1' }).announce(params);
  assert.deepEqual(
    headers.map((h) => [h['accept-encoding'], h['user-agent']]),
    [
      ['identity', 'torrent.ts'],
      ['identity', 'test-agent/1'],
    ],
  );
});

test('a tracker that does not answer in time is a request error', async (t) => {
  const { base, server } = await httpServer(() => {
    /* never answers */
  });
  t.after(() => closeServer(server));
  await assert.rejects(
    new HttpTracker(`${base}/announce`, { timeoutMs: 50 }).announce(params),
    (e: unknown) => e instanceof TrackerRequestError && /no answer within 50 ms/.test(e.message),
  );
});

test('the deadline covers the whole answer, not only its start', async (t) => {
  const { base, server } = await httpServer((_req, res) => res.writeHead(200, { 'content-length': String(ok.length) }).write(ok.subarray(0, 5)));
  t.after(() => closeServer(server));
  await assert.rejects(
    new HttpTracker(`${base}/announce`, { timeoutMs: 100 }).announce(params),
    (e: unknown) => e instanceof TrackerRequestError && /no answer within 100 ms/.test(e.message),
  );
});

test('the caller can abort; the abort reason comes back', async (t) => {
  const { base, server } = await httpServer(() => {});
  t.after(() => closeServer(server));
  const controller = new AbortController();
  const pending = new HttpTracker(`${base}/announce`).announce(params, controller.signal);
  const reason = new Error('stopping');
  setTimeout(() => controller.abort(reason), 20);
  await assert.rejects(pending, (e: unknown) => e === reason);
});

test('an oversized answer is refused', async (t) => {
  const { base, server } = await httpServer((_req, res) => res.end(Buffer.alloc(64 * 1024, 0x31)));
  t.after(() => closeServer(server));
  await assert.rejects(new HttpTracker(`${base}/announce`, { maxResponseBytes: 1024 }).announce(params), TrackerProtocolError);
});

test('a refused connection is a request error', async () => {
  const { base, server } = await httpServer(() => {});
  await closeServer(server);
  await assert.rejects(new HttpTracker(`${base}/announce`).announce(params), TrackerRequestError);
});

test('the tracker id of an answer is sent back on the next announce', async (t) => {
  const { base, requests, server } = await httpServer((_req, res) => res.end(encode({ interval: 5, 'tracker id': 'T-1' })));
  t.after(() => closeServer(server));
  const tracker = new HttpTracker(`${base}/announce`);
  await tracker.announce(params);
  await tracker.announce({ ...params, event: undefined });
  assert.ok(!requests[0].includes('trackerid'));
  assert.ok(requests[1].endsWith('&trackerid=T-1'));
});

test('createTracker picks the client by scheme and refuses the rest', () => {
  assert.ok(createTracker('http://127.0.0.1:1/announce') instanceof HttpTracker);
  assert.ok(createTracker('https://127.0.0.1:1/announce') instanceof HttpTracker);
  assert.ok(createTracker('udp://127.0.0.1:1') instanceof UdpTracker);
  assert.throws(() => createTracker('wss://127.0.0.1:1/'), (e: unknown) => e instanceof UnsupportedTrackerError && /"wss"/.test(e.message));
  assert.throws(() => createTracker('not a url'), UnsupportedTrackerError);
  assert.throws(() => createTracker('udp://127.0.0.1/'), UnsupportedTrackerError);
});

test('an https tracker is reached over TLS, and its idle connection does not keep the process alive', { skip: needOpenssl() }, async (t) => {
  const tls = await selfSignedCertificate();
  const dir = await mkdtemp(join(tmpdir(), 'torrent-ts-tracker-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const caFile = join(dir, 'ca.pem');
  await writeFile(caFile, tls.cert);
  const server = createTlsServer(tls, (_req, res) => res.end(ok));
  // Longer than the test: only the client can end the idle connection before the process exits.
  server.keepAliveTimeout = 60_000;
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => closeServer(server));
  const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/announce`;
  const script = `
    const { HttpTracker } = await import(${JSON.stringify(new URL('../../src/tracker/http-tracker.js', import.meta.url).href)});
    const params = { infoHash: new Uint8Array(20), peerId: new Uint8Array(20), port: 6881, uploaded: 0, downloaded: 0, left: 0 };
    const result = await new HttpTracker(process.argv[1]).announce(params);
    console.log(JSON.stringify(result));
  `;
  // The child trusts the self-signed certificate the way a user would: through NODE_EXTRA_CA_CERTS.
  const child = spawn(process.execPath, ['--input-type=module', '-e', script, url], {
    env: { ...process.env, NODE_EXTRA_CA_CERTS: caFile },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  t.after(() => clearTimeout(killer));
  let answeredAt: number | undefined;
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (text: string) => {
    output += text;
    answeredAt ??= Date.now();
  });
  const [code] = (await once(child, 'close')) as [number | null];
  assert.equal(code, 0);
  assert.deepEqual(JSON.parse(output), { interval: 120, minInterval: 60, peers: [{ host: '127.0.0.1', port: 6881 }] });
  // The shared pool keeps an idle connection 4 s: exiting sooner means it was not waited for.
  const lingered = Date.now() - answeredAt!;
  assert.ok(lingered < 2000, `exited ${lingered} ms after the answer`);
});
