import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  HANDSHAKE_LENGTH,
  WireProtocolError,
  checkHandshakeStart,
  decodeHandshake,
  defaultReserved,
  encodeHandshake,
  supportsExtensionProtocol,
} from '../../src/wire/index.js';

const infoHash = Uint8Array.from({ length: 20 }, (_, i) => i + 1);
const peerId = Buffer.from('-TS0001-abcdefghijkl', 'latin1');
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

test('encodeHandshake writes the BEP 3 layout with only the BEP 10 bit reserved', () => {
  const bytes = encodeHandshake({ infoHash, peerId });
  assert.equal(bytes.length, HANDSHAKE_LENGTH);
  assert.equal(
    hex(bytes),
    '13' +
      Buffer.from('BitTorrent protocol').toString('hex') +
      '0000000000100000' +
      '0102030405060708090a0b0c0d0e0f1011121314' +
      Buffer.from('-TS0001-abcdefghijkl').toString('hex'),
  );
});

test('default reserved bytes announce the extension protocol and nothing else', () => {
  const reserved = defaultReserved();
  assert.equal(hex(reserved), '0000000000100000');
  assert.equal(supportsExtensionProtocol(reserved), true);
  assert.equal(supportsExtensionProtocol(new Uint8Array(8)), false);
  // libtorrent's reserved bytes: extension protocol, DHT and fast extension bits.
  assert.equal(supportsExtensionProtocol(Buffer.from('0000000000100005', 'hex')), true);
});

test('decodeHandshake round-trips and returns copies, ignoring bytes after the handshake', () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 20, maxLength: 20 }),
      fc.uint8Array({ minLength: 20, maxLength: 20 }),
      fc.uint8Array({ minLength: 8, maxLength: 8 }),
      fc.uint8Array({ maxLength: 10 }),
      (ih, id, reserved, trailer) => {
        const bytes = Buffer.concat([encodeHandshake({ infoHash: ih, peerId: id, reserved }), trailer]);
        const h = decodeHandshake(bytes);
        assert.deepEqual([hex(h.infoHash), hex(h.peerId), hex(h.reserved)], [hex(ih), hex(id), hex(reserved)]);
        bytes.fill(0);
        assert.equal(hex(h.infoHash), hex(ih), 'decoded fields must not alias the input');
      },
    ),
  );
});

test('decodeHandshake refuses a wrong protocol string length, a wrong protocol string and truncation', () => {
  const good = Buffer.from(encodeHandshake({ infoHash, peerId }));
  const wrongLength = Buffer.from(good);
  wrongLength[0] = 18;
  assert.throws(() => decodeHandshake(wrongLength), WireProtocolError);
  const wrongName = Buffer.from(good);
  wrongName[5] = 0x78;
  assert.throws(() => decodeHandshake(wrongName), WireProtocolError);
  assert.throws(() => decodeHandshake(good.subarray(0, 67)), /truncated: 67 of 68/);
  assert.throws(() => decodeHandshake(Buffer.from('GET / HTTP/1.1\r\n')), WireProtocolError);
});

test('checkHandshakeStart accepts every prefix of a handshake and refuses at the first wrong byte', () => {
  const good = encodeHandshake({ infoHash, peerId });
  for (let n = 0; n <= good.length; n++) checkHandshakeStart(good.subarray(0, n));
  for (let i = 0; i < 20; i++) {
    const bad = Uint8Array.from(good.subarray(0, i + 1));
    bad[i] ^= 0x01;
    assert.throws(() => checkHandshakeStart(bad), WireProtocolError, `byte ${i}`);
  }
});

test('encodeHandshake refuses fields of the wrong size', () => {
  assert.throws(() => encodeHandshake({ infoHash: new Uint8Array(19), peerId }), RangeError);
  assert.throws(() => encodeHandshake({ infoHash, peerId: new Uint8Array(21) }), RangeError);
  assert.throws(() => encodeHandshake({ infoHash, peerId, reserved: new Uint8Array(7) }), RangeError);
});
