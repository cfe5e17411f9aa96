import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  decodeRequest,
  decodeResponse,
  encodeAnnounceRequest,
  encodeAnnounceResponse,
  encodeConnectRequest,
  encodeConnectResponse,
  encodeErrorResponse,
  encodeScrapeRequest,
  encodeScrapeResponse,
  transactionIdOf,
} from '../../src/tracker/udp-codec.js';
import { TrackerProtocolError } from '../../src/tracker/errors.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const bytes = (h: string) => Uint8Array.from(Buffer.from(h.replace(/\s/g, ''), 'hex'));
const connectionId = bytes('0102030405060708');

test('connect request: protocol id, action 0, transaction id (BEP 15)', () => {
  assert.equal(hex(encodeConnectRequest(0xdeadbeef)), '0000041727101980' + '00000000' + 'deadbeef');
  assert.deepEqual(decodeRequest(encodeConnectRequest(7)), { action: 'connect', transactionId: 7 });
});

test('announce request: 98 bytes in BEP 15 order', () => {
  const packet = encodeAnnounceRequest(connectionId, 0x11223344, {
    infoHash: new Uint8Array(20).fill(0xaa),
    peerId: new Uint8Array(20).fill(0xbb),
    port: 6881,
    uploaded: 3,
    downloaded: 1,
    left: 2 ** 40,
    event: 'started',
    numwant: 50,
    key: 0xcafebabe,
  });
  assert.equal(
    hex(packet),
    '0102030405060708' + '00000001' + '11223344' + 'aa'.repeat(20) + 'bb'.repeat(20) +
      '0000000000000001' + '0000010000000000' + '0000000000000003' +
      '00000002' + '00000000' + 'cafebabe' + '00000032' + '1ae1',
  );
  const regular = encodeAnnounceRequest(connectionId, 1, {
    infoHash: new Uint8Array(20),
    peerId: new Uint8Array(20),
    port: 1,
    uploaded: 0,
    downloaded: 0,
    left: 0,
  });
  assert.equal(hex(regular.subarray(80, 96)), '00000000' + '00000000' + '00000000' + 'ffffffff', 'no event, numwant -1');
});

test('announce request: events map to 0..3 and decode back', () => {
  for (const [event, code] of [[undefined, 0], ['completed', 1], ['started', 2], ['stopped', 3]] as const) {
    const p = {
      infoHash: new Uint8Array(20).fill(1),
      peerId: new Uint8Array(20).fill(2),
      port: 9,
      uploaded: 4,
      downloaded: 5,
      left: 6,
      key: 8,
      ...(event ? { event } : {}),
    };
    const packet = encodeAnnounceRequest(connectionId, 99, p);
    assert.equal(new DataView(packet.buffer).getUint32(80), code);
    const decoded = decodeRequest(packet);
    assert.equal(decoded.action, 'announce');
    if (decoded.action !== 'announce') return;
    assert.equal(decoded.event, event);
    assert.deepEqual(decoded.connectionId, connectionId);
    assert.equal(decoded.transactionId, 99);
    assert.deepEqual([decoded.uploaded, decoded.downloaded, decoded.left, decoded.port, decoded.key, decoded.ip], [4, 5, 6, 9, 8, 0]);
    assert.equal(decoded.numwant, undefined);
  }
});

test('scrape request and response', () => {
  const hashes = [new Uint8Array(20).fill(1), new Uint8Array(20).fill(2)];
  const request = decodeRequest(encodeScrapeRequest(connectionId, 5, hashes));
  assert.deepEqual(request, { action: 'scrape', connectionId, transactionId: 5, infoHashes: hashes });
  const files = [{ seeders: 1, completed: 2, leechers: 3 }];
  assert.equal(hex(encodeScrapeResponse(5, files)), '00000002' + '00000005' + '00000001' + '00000002' + '00000003');
  assert.deepEqual(decodeResponse(encodeScrapeResponse(5, files)), { action: 'scrape', transactionId: 5, files });
});

test('responses: connect, announce with IPv4 and IPv6 peers, error', () => {
  assert.deepEqual(decodeResponse(bytes('00000000 0000002a 0102030405060708')), {
    action: 'connect',
    transactionId: 42,
    connectionId,
  });
  const announce = bytes('00000001 0000002a 00000708 00000003 00000002 7f000001 1ae1 0a000001 0050');
  assert.deepEqual(decodeResponse(announce), {
    action: 'announce',
    transactionId: 42,
    interval: 1800,
    leechers: 3,
    seeders: 2,
    peers: [
      { host: '127.0.0.1', port: 6881 },
      { host: '10.0.0.1', port: 80 },
    ],
  });
  const announce6 = bytes(`00000001 0000002a 00000708 00000000 00000000 ${'00'.repeat(15)}01 1ae1`);
  assert.deepEqual(decodeResponse(announce6, 6).action === 'announce' && decodeResponse(announce6, 6), {
    action: 'announce',
    transactionId: 42,
    interval: 1800,
    leechers: 0,
    seeders: 0,
    peers: [{ host: '::1', port: 6881 }],
  });
  assert.deepEqual(decodeResponse(encodeErrorResponse(9, 'no such torrent')), {
    action: 'error',
    transactionId: 9,
    message: 'no such torrent',
  });
  const encoded = encodeAnnounceResponse({ transactionId: 1, interval: 60, leechers: 1, seeders: 0, peers: [{ host: '127.0.0.1', port: 6881 }] }, 4);
  assert.equal(hex(encoded), '00000001 00000001 0000003c 00000001 00000000 7f000001 1ae1'.replace(/ /g, ''));
  assert.deepEqual(decodeResponse(encodeConnectResponse(3, connectionId)), { action: 'connect', transactionId: 3, connectionId });
});

test('transaction id is read from any packet of 8+ bytes', () => {
  assert.equal(transactionIdOf(bytes('00000003 01020304')), 0x01020304);
  assert.equal(transactionIdOf(new Uint8Array(7)), undefined);
});

test('malformed packets are protocol errors', () => {
  const badResponses = [
    new Uint8Array(7),
    bytes('00000000 00000001 01020304'), // connect response too short
    bytes('00000001 00000001 00000708 00000000'), // announce shorter than 20
    bytes('00000001 00000001 00000708 00000000 00000000 7f000001'), // partial peer
    bytes('00000001 00000001 ffffffff 00000000 00000000'), // negative interval
    bytes('00000002 00000001 0000000100'), // partial scrape entry
    bytes('00000009 00000001'), // unknown action
  ];
  for (const p of badResponses) assert.throws(() => decodeResponse(p), TrackerProtocolError, hex(p));
  const badRequests = [
    new Uint8Array(15),
    bytes('0000041727101981 00000000 00000001'), // wrong protocol id
    encodeAnnounceRequest(connectionId, 1, {
      infoHash: new Uint8Array(20),
      peerId: new Uint8Array(20),
      port: 1,
      uploaded: 0,
      downloaded: 0,
      left: 0,
    }).subarray(0, 97),
    bytes('0102030405060708 00000002 00000001 00'), // scrape with a partial hash
    bytes('0102030405060708 00000007 00000001'),
  ];
  for (const p of badRequests) assert.throws(() => decodeRequest(p), TrackerProtocolError, hex(p));
});

test('random packets only ever fail with TrackerProtocolError', () => {
  const typed = (f: () => unknown) => {
    try {
      f();
    } catch (err) {
      assert.ok(err instanceof TrackerProtocolError, String(err));
    }
  };
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 120 }), fc.constantFrom(4 as const, 6 as const), (p, family) => {
      typed(() => decodeResponse(p, family));
      typed(() => decodeRequest(p));
    }),
  );
  // Valid headers with random tails reach the per-action checks.
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 4 }), fc.uint8Array({ maxLength: 60 }), (action, tail) => {
      const head = new Uint8Array(8);
      new DataView(head.buffer).setUint32(0, action);
      typed(() => decodeResponse(Uint8Array.from([...head, ...tail])));
    }),
  );
});

test('announce responses round-trip', () => {
  const peer = fc.tuple(fc.ipV4(), fc.integer({ min: 1, max: 65535 })).map(([host, port]) => ({ host, port }));
  fc.assert(
    fc.property(
      fc.nat(),
      fc.nat({ max: 2 ** 31 - 1 }),
      fc.nat({ max: 1000 }),
      fc.nat({ max: 1000 }),
      fc.array(peer, { maxLength: 8 }),
      (transactionId, interval, leechers, seeders, peers) => {
        const packet = encodeAnnounceResponse({ transactionId, interval, leechers, seeders, peers }, 4);
        assert.deepEqual(decodeResponse(packet), { action: 'announce', transactionId, interval, leechers, seeders, peers });
      },
    ),
  );
});
