import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { encode } from '../../src/bencode/index.js';
import {
  buildAnnounceUrl,
  parseAnnounceQuery,
  parseAnnounceResponse,
  percentDecodeBytes,
  percentEncodeBytes,
} from '../../src/tracker/http-codec.js';
import { TrackerFailure, TrackerProtocolError } from '../../src/tracker/errors.js';
import type { AnnounceParams } from '../../src/tracker/types.js';

const hex = (s: string) => Uint8Array.from(Buffer.from(s, 'hex'));
const text = (s: string) => new TextEncoder().encode(s);

const params: AnnounceParams = {
  infoHash: hex('123456789abcdef123456789abcdef123456789a'),
  peerId: text('-TS0001-abcdefghijkl'),
  port: 6881,
  uploaded: 1,
  downloaded: 2,
  left: 3,
};

test('percent-encoding: the classic info-hash example', () => {
  // The example from the BitTorrent protocol specification (wiki.theory.org).
  assert.equal(percentEncodeBytes(params.infoHash), '%124Vx%9A%BC%DE%F1%23Eg%89%AB%CD%EF%124Vx%9A');
});

test('percent-encoding: every one of the 256 byte values', () => {
  const unreserved = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~';
  for (let b = 0; b < 256; b++) {
    const encoded = percentEncodeBytes(Uint8Array.of(b));
    const ch = String.fromCharCode(b);
    if (unreserved.includes(ch)) assert.equal(encoded, ch, `byte ${b}`);
    else assert.equal(encoded, `%${b.toString(16).toUpperCase().padStart(2, '0')}`, `byte ${b}`);
    assert.ok(!encoded.includes('+'), `byte ${b} must never become "+"`);
    // An independent decoder (the legacy global unescape, exact for %XX) reads the same byte back.
    assert.deepEqual([...Buffer.from(unescape(encoded), 'latin1')], [b]);
    assert.deepEqual([...percentDecodeBytes(encoded)], [b]);
  }
  const all = Uint8Array.from({ length: 256 }, (_, i) => i);
  assert.deepEqual(percentDecodeBytes(percentEncodeBytes(all)), all);
});

test('percent-decoding: "+" is a space, broken escapes are protocol errors', () => {
  assert.deepEqual([...percentDecodeBytes('a+b%2B')], [0x61, 0x20, 0x62, 0x2b]);
  assert.throws(() => percentDecodeBytes('%4'), TrackerProtocolError);
  assert.throws(() => percentDecodeBytes('%zz'), TrackerProtocolError);
});

test('percent-encoding round-trips any bytes', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
      const encoded = percentEncodeBytes(bytes);
      assert.match(encoded, /^([A-Za-z0-9._~-]|%[0-9A-F]{2})*$/);
      assert.deepEqual(percentDecodeBytes(encoded), bytes);
    }),
  );
});

test('announce URL: golden', () => {
  assert.equal(
    buildAnnounceUrl('http://tracker.example/announce', { ...params, event: 'started', numwant: 50, key: 0xbeef }),
    'http://tracker.example/announce?info_hash=%124Vx%9A%BC%DE%F1%23Eg%89%AB%CD%EF%124Vx%9A' +
      '&peer_id=-TS0001-abcdefghijkl&port=6881&uploaded=1&downloaded=2&left=3&compact=1' +
      '&event=started&numwant=50&key=0000beef',
  );
});

test('announce URL: a regular announce has no event; trackerid is sent back', () => {
  const url = buildAnnounceUrl('http://t/a', params, { trackerId: text('id 1') });
  assert.ok(!url.includes('event='));
  assert.ok(url.endsWith('&compact=1&trackerid=id%201'));
});

test('announce URL: an existing query is kept and continued with "&"', () => {
  assert.ok(buildAnnounceUrl('http://t/announce.php?passkey=abc', params).startsWith('http://t/announce.php?passkey=abc&info_hash='));
  assert.ok(buildAnnounceUrl('http://t/announce?', params).startsWith('http://t/announce?info_hash='));
  assert.ok(buildAnnounceUrl('http://t/announce?a=1&', params).startsWith('http://t/announce?a=1&info_hash='));
  // A fragment is never sent to a server; our parameters must not end up inside it.
  assert.ok(buildAnnounceUrl('http://t/announce?a=1#frag', params).startsWith('http://t/announce?a=1&info_hash='));
});

test('announce URL: bad parameters are programming errors', () => {
  assert.throws(() => buildAnnounceUrl('http://t/', { ...params, infoHash: new Uint8Array(19) }), RangeError);
  assert.throws(() => buildAnnounceUrl('http://t/', { ...params, peerId: new Uint8Array(21) }), RangeError);
  assert.throws(() => buildAnnounceUrl('http://t/', { ...params, port: 70000 }), RangeError);
  assert.throws(() => buildAnnounceUrl('http://t/', { ...params, left: -1 }), RangeError);
  assert.throws(() => buildAnnounceUrl('http://t/', { ...params, key: 2 ** 32 }), RangeError);
});

test('announce query: what the URL builder writes, the server parser reads', () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 20, maxLength: 20 }),
      fc.uint8Array({ minLength: 20, maxLength: 20 }),
      fc.integer({ min: 1, max: 65535 }),
      fc.maxSafeNat(),
      fc.constantFrom(undefined, 'started' as const, 'completed' as const, 'stopped' as const),
      (infoHash, peerId, port, left, event) => {
        const p: AnnounceParams = { infoHash, peerId, port, uploaded: 7, downloaded: 8, left, numwant: 30 };
        if (event) p.event = event;
        const url = buildAnnounceUrl('http://t/announce?x=y', p);
        const q = parseAnnounceQuery(url.slice(url.indexOf('?') + 1));
        assert.deepEqual(q.infoHash, infoHash);
        assert.deepEqual(q.peerId, peerId);
        assert.equal(q.port, port);
        assert.equal(q.left, left);
        assert.equal(q.uploaded, 7);
        assert.equal(q.downloaded, 8);
        assert.equal(q.event, event);
        assert.equal(q.numwant, 30);
        assert.equal(q.compact, true);
      },
    ),
  );
});

test('announce query: missing or malformed fields are protocol errors', () => {
  const ok = buildAnnounceUrl('http://t/a', params).split('?')[1];
  assert.equal(parseAnnounceQuery(ok).port, 6881);
  assert.equal(parseAnnounceQuery(`${ok}&compact=0&no_peer_id=1`).compact, true, 'first occurrence wins');
  const without = (name: string) => ok.split('&').filter((f) => !f.startsWith(`${name}=`)).join('&');
  assert.equal(parseAnnounceQuery(`${without('compact')}&compact=0&no_peer_id=1`).compact, false);
  assert.throws(() => parseAnnounceQuery(without('info_hash')), TrackerProtocolError);
  assert.throws(() => parseAnnounceQuery(without('peer_id')), TrackerProtocolError);
  assert.throws(() => parseAnnounceQuery(without('port')), TrackerProtocolError);
  assert.throws(() => parseAnnounceQuery(`${without('port')}&port=0`), TrackerProtocolError);
  assert.throws(() => parseAnnounceQuery(`${without('left')}&left=-5`), TrackerProtocolError);
  assert.throws(() => parseAnnounceQuery(`${ok}&event=exploded`), TrackerProtocolError);
  // Clients without metadata announce left=2^64-1.
  assert.equal(parseAnnounceQuery(`${without('left')}&left=18446744073709551615`).left, Number.MAX_SAFE_INTEGER);
});

test('announce answer: compact peers (BEP 23) and peers6 (BEP 7)', () => {
  const body = encode({
    interval: 1800,
    'min interval': 900,
    complete: 5,
    incomplete: 7,
    peers: Uint8Array.of(127, 0, 0, 1, 0x1a, 0xe1, 10, 1, 2, 3, 0, 80),
    peers6: Uint8Array.of(...new Array(15).fill(0), 1, 0x1a, 0xe2),
    'warning message': 'be nice',
    'tracker id': 'tid',
  });
  assert.deepEqual(parseAnnounceResponse(body), {
    interval: 1800,
    minInterval: 900,
    complete: 5,
    incomplete: 7,
    peers: [
      { host: '127.0.0.1', port: 6881 },
      { host: '10.1.2.3', port: 80 },
      { host: '::1', port: 6882 },
    ],
    warning: 'be nice',
    trackerId: text('tid'),
  });
});

test('announce answer: dictionary peers', () => {
  const body = encode({
    interval: 60,
    peers: [
      { ip: '127.0.0.1', port: 6881, 'peer id': new Uint8Array(20) },
      { ip: 'peer.example', port: 51413 },
      { ip: '::1', port: 1 },
      { ip: '127.0.0.2', port: 0 }, // unreachable, dropped
    ],
  });
  assert.deepEqual(parseAnnounceResponse(body), {
    interval: 60,
    peers: [
      { host: '127.0.0.1', port: 6881 },
      { host: 'peer.example', port: 51413 },
      { host: '::1', port: 1 },
    ],
  });
});

test('announce answer: no peers at all is an empty list', () => {
  assert.deepEqual(parseAnnounceResponse(encode({ interval: 10 })), { interval: 10, peers: [] });
});

test('announce answer: failure reason becomes TrackerFailure carrying the reason', () => {
  assert.throws(
    () => parseAnnounceResponse(encode({ 'failure reason': 'torrent not registered', interval: 5 })),
    (e: unknown) => e instanceof TrackerFailure && e.reason === 'torrent not registered',
  );
});

test('announce answer: malformed answers are protocol errors', () => {
  const bad = [
    text('<html>502 Bad Gateway</html>'),
    encode(['not', 'a', 'dict']),
    encode({ peers: new Uint8Array(0) }), // no interval
    encode({ interval: -1, peers: new Uint8Array(0) }),
    encode({ interval: 'soon' }),
    encode({ interval: 1, peers: new Uint8Array(7) }),
    encode({ interval: 1, peers6: new Uint8Array(17) }),
    encode({ interval: 1, peers: 5 }),
    encode({ interval: 1, peers: [5] }),
    encode({ interval: 1, peers: [{ ip: '1.2.3.4' }] }),
    encode({ interval: 1, peers: [{ ip: '1.2.3.4', port: 70000 }] }),
    encode({ interval: 1, complete: -3 }),
    encode({ 'failure reason': 42 }),
  ];
  for (const body of bad) {
    assert.throws(() => parseAnnounceResponse(body), TrackerProtocolError, Buffer.from(body).toString('latin1'));
  }
});

test('announce answer: random bytes only ever fail with typed errors', () => {
  const typed = (f: () => unknown) => {
    try {
      f();
    } catch (err) {
      assert.ok(err instanceof TrackerProtocolError || err instanceof TrackerFailure, String(err));
    }
  };
  fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => typed(() => parseAnnounceResponse(bytes))));
  // Structured but arbitrary dictionaries reach deeper than random bytes.
  const value = fc.letrec((tie) => ({
    v: fc.oneof(
      { depthSize: 'small' },
      fc.integer(),
      fc.uint8Array({ maxLength: 24 }),
      fc.array(tie('v'), { maxLength: 3 }),
      fc.dictionary(fc.constantFrom('ip', 'port', 'peer id', 'x'), tie('v'), { maxKeys: 3 }),
    ),
  })).v;
  const answer = fc.dictionary(
    fc.constantFrom('interval', 'min interval', 'peers', 'peers6', 'complete', 'incomplete', 'failure reason', 'warning message', 'tracker id'),
    value,
  );
  fc.assert(fc.property(answer, (dict) => typed(() => parseAnnounceResponse(encode(dict as never)))));
  fc.assert(fc.property(fc.string({ maxLength: 200 }), (q) => {
    try {
      parseAnnounceQuery(q);
    } catch (err) {
      assert.ok(err instanceof TrackerProtocolError, String(err));
    }
  }));
});
