import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import type { RemoteInfo, Socket } from 'node:dgram';
import { ConnectionIdCache, UdpTracker } from '../../src/tracker/udp-tracker.js';
import { TrackerFailure, TrackerProtocolError, TrackerRequestError, UnsupportedTrackerError } from '../../src/tracker/errors.js';
import {
  decodeRequest,
  encodeAnnounceResponse,
  encodeConnectResponse,
  encodeErrorResponse,
} from '../../src/tracker/udp-codec.js';
import type { UdpRequest } from '../../src/tracker/udp-codec.js';
import type { AnnounceParams } from '../../src/tracker/types.js';

const params: AnnounceParams = {
  infoHash: new Uint8Array(20).fill(1),
  peerId: new Uint8Array(20).fill(2),
  port: 6881,
  uploaded: 0,
  downloaded: 0,
  left: 100,
  event: 'started',
};

const CONNECTION_ID = Uint8Array.of(9, 8, 7, 6, 5, 4, 3, 2);

interface Scripted {
  url: string;
  received: UdpRequest[];
  close(): Promise<void>;
}

/**
 * A UDP tracker on loopback whose every answer the test scripts: `answer` gets each decoded request and the
 * count of earlier requests of the same action, and sends whatever packets it likes (or none).
 */
async function scriptedTracker(
  answer: (request: UdpRequest, nth: number, send: (packet: Uint8Array) => void) => void,
): Promise<Scripted> {
  const socket: Socket = createSocket('udp4');
  const received: UdpRequest[] = [];
  socket.on('message', (packet: Buffer, from: RemoteInfo) => {
    const request = decodeRequest(packet);
    const nth = received.filter((r) => r.action === request.action).length;
    received.push(request);
    answer(request, nth, (p) => socket.send(p, from.port, from.address));
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return {
    url: `udp://127.0.0.1:${socket.address().port}/announce`,
    received,
    close: () => new Promise((resolve) => socket.close(() => resolve())),
  };
}

const peersReply = (tid: number, port: number) =>
  encodeAnnounceResponse({ transactionId: tid, interval: 900, leechers: 4, seeders: 5, peers: [{ host: '127.0.0.1', port }] }, 4);

test('retransmits connect and announce until answered, keeping the transaction id', async (t) => {
  const tracker = await scriptedTracker((request, nth, send) => {
    if (request.action === 'connect' && nth >= 2) send(encodeConnectResponse(request.transactionId, CONNECTION_ID));
    if (request.action === 'announce' && nth >= 1) send(peersReply(request.transactionId, 7000));
  });
  t.after(() => tracker.close());
  const client = new UdpTracker(tracker.url, { retransmitBaseMs: 10, connectionIds: new ConnectionIdCache() });
  const result = await client.announce(params);
  assert.deepEqual(result, { interval: 900, peers: [{ host: '127.0.0.1', port: 7000 }], complete: 5, incomplete: 4 });
  assert.deepEqual(tracker.received.map((r) => r.action), ['connect', 'connect', 'connect', 'announce', 'announce']);
  const announces = tracker.received.filter((r) => r.action === 'announce');
  assert.equal(announces[0].transactionId, announces[1].transactionId);
  assert.ok(announces.every((a) => a.action === 'announce' && Buffer.from(a.connectionId).equals(CONNECTION_ID)));
});

test('ignores packets with a wrong transaction id or too short to carry one', async (t) => {
  const decoyId = Uint8Array.of(1, 1, 1, 1, 1, 1, 1, 1);
  const tracker = await scriptedTracker((request, _nth, send) => {
    const wrong = (request.transactionId + 1) >>> 0;
    send(Uint8Array.of(0, 0, 0));
    if (request.action === 'connect') {
      send(encodeConnectResponse(wrong, decoyId));
      send(encodeConnectResponse(request.transactionId, CONNECTION_ID));
    } else if (request.action === 'announce') {
      if (!Buffer.from(request.connectionId).equals(CONNECTION_ID)) {
        send(encodeErrorResponse(request.transactionId, 'used the decoy connection id'));
        return;
      }
      send(encodeErrorResponse(wrong, 'an error for somebody else'));
      send(peersReply(wrong, 1111));
      send(peersReply(request.transactionId, 2222));
    }
  });
  t.after(() => tracker.close());
  const client = new UdpTracker(tracker.url, { retransmitBaseMs: 5_000, connectionIds: new ConnectionIdCache() });
  const result = await client.announce(params);
  assert.deepEqual(result.peers, [{ host: '127.0.0.1', port: 2222 }]);
  assert.equal(tracker.received.length, 2, 'no retransmission was needed');
});

test('reuses the connection id for its 60 s lifetime, then connects again', async (t) => {
  const tracker = await scriptedTracker((request, _nth, send) => {
    if (request.action === 'connect') send(encodeConnectResponse(request.transactionId, CONNECTION_ID));
    else send(peersReply(request.transactionId, 3000));
  });
  t.after(() => tracker.close());
  let now = 1_000_000;
  const client = new UdpTracker(tracker.url, { retransmitBaseMs: 1000, connectionIds: new ConnectionIdCache(() => now) });
  await client.announce(params);
  now += 59_999;
  await client.announce({ ...params, event: undefined });
  assert.deepEqual(tracker.received.map((r) => r.action), ['connect', 'announce', 'announce']);
  now += 1;
  await client.announce({ ...params, event: undefined });
  assert.deepEqual(tracker.received.map((r) => r.action), ['connect', 'announce', 'announce', 'connect', 'announce']);
});

test('an error packet is a TrackerFailure and drops the cached connection id', async (t) => {
  const tracker = await scriptedTracker((request, nth, send) => {
    if (request.action === 'connect') send(encodeConnectResponse(request.transactionId, CONNECTION_ID));
    else if (nth === 0) send(encodeErrorResponse(request.transactionId, 'torrent not allowed here'));
    else send(peersReply(request.transactionId, 4000));
  });
  t.after(() => tracker.close());
  const client = new UdpTracker(tracker.url, { retransmitBaseMs: 1000, connectionIds: new ConnectionIdCache() });
  await assert.rejects(client.announce(params), (e: unknown) => e instanceof TrackerFailure && e.reason === 'torrent not allowed here');
  await client.announce(params);
  assert.deepEqual(tracker.received.map((r) => r.action), ['connect', 'announce', 'connect', 'announce']);
});

test('a malformed answer carrying our transaction id is a protocol error', async (t) => {
  const tracker = await scriptedTracker((request, _nth, send) => {
    if (request.action === 'connect') send(encodeConnectResponse(request.transactionId, CONNECTION_ID));
    else send(peersReply(request.transactionId, 5000).subarray(0, 23));
  });
  t.after(() => tracker.close());
  const client = new UdpTracker(tracker.url, { retransmitBaseMs: 1000, connectionIds: new ConnectionIdCache() });
  await assert.rejects(client.announce(params), TrackerProtocolError);
});

test('gives up after the last retransmission when nothing answers', async (t) => {
  const tracker = await scriptedTracker(() => {});
  t.after(() => tracker.close());
  const client = new UdpTracker(tracker.url, { retransmitBaseMs: 5, maxRetransmissions: 2, connectionIds: new ConnectionIdCache() });
  await assert.rejects(client.announce(params), TrackerRequestError);
  assert.deepEqual(tracker.received.map((r) => r.action), ['connect', 'connect', 'connect']);
});

test('a closed port fails fast with TrackerRequestError', async () => {
  const probe = createSocket('udp4');
  await new Promise<void>((resolve) => probe.bind(0, '127.0.0.1', resolve));
  const port = probe.address().port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  const client = new UdpTracker(`udp://127.0.0.1:${port}`, { retransmitBaseMs: 60_000, connectionIds: new ConnectionIdCache() });
  await assert.rejects(client.announce(params), (e: unknown) => e instanceof TrackerRequestError && /ECONNREFUSED/.test(e.message));
});

test('an abort signal cancels the announce with its reason', async (t) => {
  const tracker = await scriptedTracker(() => {});
  t.after(() => tracker.close());
  const client = new UdpTracker(tracker.url, { retransmitBaseMs: 60_000, connectionIds: new ConnectionIdCache() });
  const controller = new AbortController();
  const pending = client.announce(params, controller.signal);
  const reason = new Error('torrent removed');
  setImmediate(() => controller.abort(reason));
  await assert.rejects(pending, (e: unknown) => e === reason);
});

test('UDP tracker URLs need a port', () => {
  assert.throws(() => new UdpTracker('udp://127.0.0.1/announce'), UnsupportedTrackerError);
  assert.throws(() => new UdpTracker('http://127.0.0.1:80/'), UnsupportedTrackerError);
});
