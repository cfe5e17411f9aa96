import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { encodeCompactPeers, formatIPv6, parseCompactPeers, parseIPv6 } from '../../src/tracker/compact-peers.js';
import { TrackerProtocolError } from '../../src/tracker/errors.js';

test('compact IPv4 peers: 6-byte entries, big-endian port', () => {
  const bytes = Uint8Array.of(127, 0, 0, 1, 0x1a, 0xe1, 192, 168, 255, 254, 0xff, 0xff);
  const peers = [
    { host: '127.0.0.1', port: 6881 },
    { host: '192.168.255.254', port: 65535 },
  ];
  assert.deepEqual(parseCompactPeers(bytes, 4), peers);
  assert.deepEqual(encodeCompactPeers(peers, 4), bytes);
});

test('compact IPv6 peers: 18-byte entries (BEP 7)', () => {
  const bytes = Uint8Array.of(0x20, 0x01, 0x0d, 0xb8, ...new Array(11).fill(0), 1, 0x1a, 0xe1);
  assert.deepEqual(parseCompactPeers(bytes, 6), [{ host: '2001:db8::1', port: 6881 }]);
  assert.deepEqual(encodeCompactPeers([{ host: '2001:db8::1', port: 6881 }], 6), bytes);
});

test('compact peers: port 0 entries are dropped, partial entries refused', () => {
  assert.deepEqual(parseCompactPeers(Uint8Array.of(1, 2, 3, 4, 0, 0), 4), []);
  assert.throws(() => parseCompactPeers(new Uint8Array(5), 4), TrackerProtocolError);
  assert.throws(() => parseCompactPeers(new Uint8Array(20), 6), TrackerProtocolError);
});

test('IPv6 text follows RFC 5952', () => {
  const cases: [string, string][] = [
    ['00000000000000000000000000000000', '::'],
    ['00000000000000000000000000000001', '::1'],
    ['20010db8000000000000000000000001', '2001:db8::1'],
    ['20010db8000000010000000000000001', '2001:db8:0:1::1'], // longest zero run wins
    ['20010db8000000000001000000000001', '2001:db8::1:0:0:1'], // first of equal runs wins
    ['20010db8000100010001000100010001', '2001:db8:1:1:1:1:1:1'],
    ['20010db8000000010001000100010001', '2001:db8:0:1:1:1:1:1'], // a single zero group stays
    ['fe800000000000000000000000000000', 'fe80::'],
    ['00000000000000000000ffff7f000001', '::ffff:7f00:1'],
  ];
  for (const [h, expected] of cases) assert.equal(formatIPv6(Buffer.from(h, 'hex')), expected, h);
});

test('IPv6 parse: embedded IPv4 tails and "::" anywhere', () => {
  assert.equal(Buffer.from(parseIPv6('::ffff:127.0.0.1')).toString('hex'), '00000000000000000000ffff7f000001');
  assert.equal(Buffer.from(parseIPv6('1::')).toString('hex'), '00010000000000000000000000000000');
  assert.throws(() => parseIPv6('1.2.3.4'), RangeError);
});

test('compact peers round-trip for any addresses', () => {
  const peer4 = fc.tuple(fc.ipV4(), fc.integer({ min: 1, max: 65535 })).map(([host, port]) => ({ host, port }));
  fc.assert(
    fc.property(fc.array(peer4, { maxLength: 10 }), (peers) => {
      assert.deepEqual(parseCompactPeers(encodeCompactPeers(peers, 4), 4), peers);
    }),
  );
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), (address) => {
      // Bytes → canonical text → bytes is the identity; text → bytes → text gives the canonical form.
      assert.deepEqual(parseIPv6(formatIPv6(address)), address);
    }),
  );
  fc.assert(
    fc.property(fc.ipV6(), (text) => {
      const canonical = formatIPv6(parseIPv6(text));
      assert.equal(formatIPv6(parseIPv6(canonical)), canonical);
    }),
  );
});
