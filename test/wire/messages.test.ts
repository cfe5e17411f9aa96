import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  FrameDecoder,
  PIECE_HEADER_LENGTH,
  encodeMessage,
  encodePieceHeader,
  encodeRequests,
  type WireMessage,
} from '../../src/wire/index.js';
import { comparable } from './comparable.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const bytes = (h: string) => Buffer.from(h, 'hex');

/** Every message type with its exact frame (spaces separate length prefix, id and fields). */
const GOLDEN: [WireMessage, string][] = [
  [{ type: 'keepalive' }, '00000000'],
  [{ type: 'choke' }, '00000001 00'],
  [{ type: 'unchoke' }, '00000001 01'],
  [{ type: 'interested' }, '00000001 02'],
  [{ type: 'notInterested' }, '00000001 03'],
  [{ type: 'have', index: 0x01020304 }, '00000005 04 01020304'],
  [{ type: 'bitfield', bytes: bytes('ff80') }, '00000003 05 ff80'],
  [{ type: 'request', index: 1, begin: 0x4000, length: 0x4000 }, '0000000d 06 00000001 00004000 00004000'],
  [{ type: 'piece', index: 2, begin: 0x8000, block: bytes('aabbcc') }, '0000000c 07 00000002 00008000 aabbcc'],
  [{ type: 'cancel', index: 0xffffffff, begin: 0, length: 1 }, '0000000d 08 ffffffff 00000000 00000001'],
  [{ type: 'port', port: 6881 }, '00000003 09 1ae1'],
  [{ type: 'extended', id: 0, payload: Buffer.from('de') }, '00000004 14 00 6465'],
  [{ type: 'extended', id: 3, payload: new Uint8Array(0) }, '00000002 14 03'],
  [{ type: 'unknown', id: 14, payload: new Uint8Array(0) }, '00000001 0e'],
  [{ type: 'unknown', id: 13, payload: bytes('00000007') }, '00000005 0d 00000007'],
];

for (const [message, frame] of GOLDEN) {
  const label = `${message.type}${'id' in message ? ` ${message.id}` : ''}`;
  test(`${label}: encodes to ${frame} and decodes back`, () => {
    const expected = frame.replaceAll(' ', '');
    assert.equal(hex(encodeMessage(message)), expected);
    const decoder = new FrameDecoder();
    decoder.push(bytes(expected));
    const decoded = decoder.next();
    assert.ok(decoded);
    assert.deepEqual(comparable(decoded), comparable(message));
    assert.equal(decoder.next(), undefined);
    assert.equal(decoder.bufferedLength, 0);
  });
}

test('encodePieceHeader is the first 13 bytes of the piece frame', () => {
  const block = Buffer.from('hello block');
  const header = encodePieceHeader(7, 16384, block.length);
  assert.equal(header.length, PIECE_HEADER_LENGTH);
  assert.equal(hex(Buffer.concat([header, block])), hex(encodeMessage({ type: 'piece', index: 7, begin: 16384, block })));
});

test('encodeRequests writes the request frames back to back', () => {
  const blocks = [
    { piece: 1, begin: 0x4000, length: 0x4000 },
    { piece: 0xffffffff, begin: 0, length: 1 },
  ];
  const one = ({ piece, begin, length }: (typeof blocks)[number]) => encodeMessage({ type: 'request', index: piece, begin, length });
  assert.equal(hex(encodeRequests(blocks)), hex(Buffer.concat(blocks.map(one))));
  assert.equal(encodeRequests([]).length, 0);
  assert.throws(() => encodeRequests([{ piece: 0, begin: -1, length: 1 }]), RangeError);
});

test('encodeMessage refuses values that do not fit their fields', () => {
  const bad: WireMessage[] = [
    { type: 'have', index: -1 },
    { type: 'have', index: 2 ** 32 },
    { type: 'request', index: 0, begin: 1.5, length: 1 },
    { type: 'cancel', index: 0, begin: 0, length: Number.NaN },
    { type: 'piece', index: 2 ** 32, begin: 0, block: new Uint8Array(1) },
    { type: 'port', port: 65536 },
    { type: 'extended', id: 256, payload: new Uint8Array(0) },
    { type: 'unknown', id: -1, payload: new Uint8Array(0) },
  ];
  for (const m of bad) assert.throws(() => encodeMessage(m), RangeError, JSON.stringify(m));
  assert.throws(() => encodePieceHeader(0, 0, 2 ** 32), RangeError);
});
