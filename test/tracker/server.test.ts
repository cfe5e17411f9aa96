import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { decode, getBytes, getInt, getList, getText, isDict } from '../../src/bencode/index.js';
import { TrackerServer } from '../../src/tracker/server.js';
import { HttpTracker } from '../../src/tracker/http-tracker.js';
import { ConnectionIdCache, UdpTracker } from '../../src/tracker/udp-tracker.js';
import { buildAnnounceUrl } from '../../src/tracker/http-codec.js';
import {
  decodeResponse,
  encodeAnnounceRequest,
  encodeConnectRequest,
  encodeScrapeRequest,
} from '../../src/tracker/udp-codec.js';
import type { UdpResponse } from '../../src/tracker/udp-codec.js';
import { TrackerFailure } from '../../src/tracker/errors.js';
import type { AnnounceParams, Tracker } from '../../src/tracker/types.js';

const infoHash = new Uint8Array(20).fill(0x42);
const peer = (n: number, extra: Partial<AnnounceParams> = {}): AnnounceParams => ({
  infoHash,
  peerId: new Uint8Array(20).fill(n),
  port: 10_000 + n,
  uploaded: 0,
  downloaded: 0,
  left: 100,
  event: 'started',
  ...extra,
});
const byPort = (a: { port: number }, b: { port: number }) => a.port - b.port;

for (const transport of ['http', 'udp'] as const) {
  test(`our server and our ${transport} client: peers of one torrent find each other`, async (t) => {
    const server = await TrackerServer.start({ intervalSeconds: 300 });
    t.after(() => server.close());
    const client: Tracker =
      transport === 'http'
        ? new HttpTracker(server.httpUrl)
        : new UdpTracker(server.udpUrl, { retransmitBaseMs: 1000, connectionIds: new ConnectionIdCache() });

    const first = await client.announce(peer(1));
    assert.deepEqual(first.peers, [], 'a lone peer is not told about itself');
    assert.equal(first.interval, 300);
    const second = await client.announce(peer(2, { left: 0 }));
    assert.deepEqual(second.peers, [{ host: '127.0.0.1', port: 10_001 }]);
    assert.deepEqual([second.complete, second.incomplete], [1, 1]);
    await client.announce(peer(3));
    const again = await client.announce(peer(1, { event: undefined }));
    assert.deepEqual(again.peers.sort(byPort), [
      { host: '127.0.0.1', port: 10_002 },
      { host: '127.0.0.1', port: 10_003 },
    ]);
    const limited = await client.announce(peer(1, { event: undefined, numwant: 1 }));
    assert.equal(limited.peers.length, 1);
    // Another torrent is another swarm.
    assert.deepEqual((await client.announce(peer(4, { infoHash: new Uint8Array(20).fill(7) }))).peers, []);

    await client.announce(peer(2, { event: 'stopped' }));
    assert.equal(server.swarmSize(infoHash), 2);
    const afterStop = await client.announce(peer(1, { event: undefined }));
    assert.deepEqual(afterStop.peers, [{ host: '127.0.0.1', port: 10_003 }]);
  });
}

test('HTTP: non-compact answers list dictionaries, with peer ids unless no_peer_id', async (t) => {
  const server = await TrackerServer.start({ minIntervalSeconds: 30 });
  t.after(() => server.close());
  await new HttpTracker(server.httpUrl).announce(peer(1));
  const get = async (suffix: string) => {
    const url = buildAnnounceUrl(server.httpUrl, peer(2)).replace('compact=1', 'compact=0') + suffix;
    const res = await fetch(url);
    const value = decode(new Uint8Array(await res.arrayBuffer())).value;
    assert.ok(isDict(value));
    assert.equal(getInt(value, 'min interval'), 30);
    const peers = getList(value, 'peers') ?? [];
    assert.equal(peers.length, 1);
    assert.ok(isDict(peers[0]));
    return peers[0];
  };
  const withId = await get('');
  assert.equal(getText(withId, 'ip'), '127.0.0.1');
  assert.equal(getInt(withId, 'port'), 10_001);
  assert.deepEqual(getBytes(withId, 'peer id'), new Uint8Array(20).fill(1));
  const withoutId = await get('&no_peer_id=1');
  assert.equal(withoutId.has('peer id'), false);
});

test('HTTP: a broken announce gets a failure reason, other paths a 404', async (t) => {
  const server = await TrackerServer.start();
  t.after(() => server.close());
  const broken = server.httpUrl.replace('/announce', '/announce?info_hash=short&peer_id=x&port=1');
  await assert.rejects(new HttpTracker(broken).announce(peer(1)), (e: unknown) => e instanceof TrackerFailure && /info_hash/.test(e.reason));
  const res = await fetch(server.httpUrl.replace('/announce', '/scrape'));
  await res.arrayBuffer();
  assert.equal(res.status, 404);
});

test('peers that stop announcing are forgotten after two intervals', async (t) => {
  let now = 5_000_000;
  const server = await TrackerServer.start({ intervalSeconds: 60, now: () => now });
  t.after(() => server.close());
  const client = new HttpTracker(server.httpUrl);
  await client.announce(peer(1));
  now += 60_000;
  await client.announce(peer(2));
  now += 60_000 - 1;
  assert.equal(server.swarmSize(infoHash), 2);
  now += 1;
  assert.equal(server.swarmSize(infoHash), 1, 'peer 1 expired two intervals after its announce');
  assert.deepEqual((await client.announce(peer(3))).peers, [{ host: '127.0.0.1', port: 10_002 }]);
});

/** Raw BEP 15 exchange with the server, for what the client never sends (scrape, stale ids). */
async function udpExchange(url: string, packet: Uint8Array): Promise<UdpResponse> {
  const port = Number(new URL(url).port);
  const socket = createSocket('udp4');
  try {
    const reply = new Promise<Buffer>((resolve) => socket.once('message', resolve));
    socket.send(packet, port, '127.0.0.1');
    return decodeResponse(await reply);
  } finally {
    socket.close();
  }
}

test('UDP: scrape reports seeders, leechers and completed events', async (t) => {
  const server = await TrackerServer.start();
  t.after(() => server.close());
  const client = new UdpTracker(server.udpUrl, { connectionIds: new ConnectionIdCache() });
  await client.announce(peer(1));
  await client.announce(peer(2));
  await client.announce(peer(2, { left: 0, event: 'completed' }));
  const connect = await udpExchange(server.udpUrl, encodeConnectRequest(1));
  assert.equal(connect.action, 'connect');
  if (connect.action !== 'connect') return;
  const scrape = await udpExchange(server.udpUrl, encodeScrapeRequest(connect.connectionId, 2, [infoHash, new Uint8Array(20)]));
  assert.deepEqual(scrape, {
    action: 'scrape',
    transactionId: 2,
    files: [
      { seeders: 1, completed: 1, leechers: 1 },
      { seeders: 0, completed: 0, leechers: 0 },
    ],
  });
});

test('UDP: connection ids are refused when unknown or older than two minutes', async (t) => {
  let now = 7_000_000;
  const server = await TrackerServer.start({ now: () => now });
  t.after(() => server.close());
  const bogus = await udpExchange(server.udpUrl, encodeAnnounceRequest(new Uint8Array(8), 3, peer(1)));
  assert.equal(bogus.action, 'error');
  const connect = await udpExchange(server.udpUrl, encodeConnectRequest(4));
  if (connect.action !== 'connect') assert.fail('expected a connect answer');
  now += 60_000;
  assert.equal((await udpExchange(server.udpUrl, encodeAnnounceRequest(connect.connectionId, 5, peer(1)))).action, 'announce');
  now += 60_000;
  assert.equal((await udpExchange(server.udpUrl, encodeAnnounceRequest(connect.connectionId, 6, peer(1)))).action, 'error');
});
