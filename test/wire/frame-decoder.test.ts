import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  BLOCK_SIZE,
  DEFAULT_MAX_MESSAGE_LENGTH,
  FrameDecoder,
  WireProtocolError,
  encodeMessage,
  type WireMessage,
} from '../../src/wire/index.js';
import { comparable } from './comparable.js';

const bytes = (h: string) => Buffer.from(h.replaceAll(' ', ''), 'hex');

/** Pushes every chunk, collecting messages as they become complete. */
function decodeChunks(decoder: FrameDecoder, chunks: Uint8Array[]): WireMessage[] {
  const out: WireMessage[] = [];
  for (const chunk of chunks) {
    decoder.push(chunk);
    for (let m = decoder.next(); m !== undefined; m = decoder.next()) out.push(m);
  }
  return out;
}

const u32 = fc.integer({ min: 0, max: 0xffffffff });
const smallBytes = fc.uint8Array({ maxLength: 64 });
const message: fc.Arbitrary<WireMessage> = fc.oneof(
  fc.constantFrom<WireMessage>(
    { type: 'keepalive' },
    { type: 'choke' },
    { type: 'unchoke' },
    { type: 'interested' },
    { type: 'notInterested' },
  ),
  fc.record({ type: fc.constant('have' as const), index: u32 }),
  fc.record({ type: fc.constant('bitfield' as const), bytes: smallBytes }),
  fc.record({ type: fc.constantFrom('request' as const, 'cancel' as const), index: u32, begin: u32, length: u32 }),
  fc.record({ type: fc.constant('piece' as const), index: u32, begin: u32, block: fc.uint8Array({ maxLength: 300 }) }),
  fc.record({ type: fc.constant('port' as const), port: fc.integer({ min: 0, max: 0xffff }) }),
  fc.record({ type: fc.constant('extended' as const), id: fc.integer({ min: 0, max: 255 }), payload: smallBytes }),
  fc.record({
    type: fc.constant('unknown' as const),
    id: fc.integer({ min: 10, max: 255 }).filter((id) => id !== 20),
    payload: smallBytes,
  }),
);

/** Splits `buf` at the given cut points (taken modulo its length). */
function split(buf: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => (buf.length === 0 ? 0 : c % (buf.length + 1))))].sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let start = 0;
  for (const p of [...points, buf.length]) {
    out.push(buf.subarray(start, p));
    start = p;
  }
  return out;
}

test('a stream of messages decodes to the same messages however it is chunked', () => {
  fc.assert(
    fc.property(fc.array(message, { maxLength: 30 }), fc.array(fc.nat(), { maxLength: 40 }), (messages, cuts) => {
      const stream = Buffer.concat(messages.map(encodeMessage));
      const decoded = decodeChunks(new FrameDecoder(), split(stream, cuts));
      assert.deepEqual(decoded.map(comparable), messages.map(comparable));
    }),
  );
});

test('chunks read into one reused buffer decode the same when the decoder copies what it still holds of each', () => {
  fc.assert(
    fc.property(fc.array(message, { maxLength: 30 }), fc.array(fc.nat(), { maxLength: 40 }), (messages, cuts) => {
      const stream = Buffer.concat(messages.map(encodeMessage));
      const decoder = new FrameDecoder();
      const readBuffer = new Uint8Array(stream.length);
      const atDelivery: unknown[] = [];
      const kept: WireMessage[] = [];
      for (const chunk of split(stream, cuts)) {
        const read = readBuffer.subarray(0, chunk.length);
        read.set(chunk);
        decoder.push(read);
        for (let m = decoder.next(); m !== undefined; m = decoder.next()) {
          atDelivery.push(comparable(m));
          kept.push(m);
        }
        decoder.copyLastChunk();
        readBuffer.fill(0xee);
      }
      assert.deepEqual(atDelivery, messages.map(comparable));
      // Only piece blocks may be views into the read buffer; every other payload belongs to its message.
      const notPieces = (list: WireMessage[]) => list.filter((m) => m.type !== 'piece').map(comparable);
      assert.deepEqual(notPieces(kept), notPieces(messages));
    }),
  );
});

test('a full-size piece delivered one byte at a time decodes intact', () => {
  const block = Uint8Array.from({ length: BLOCK_SIZE }, (_, i) => i * 7);
  const frame = encodeMessage({ type: 'piece', index: 3, begin: BLOCK_SIZE, block });
  const chunks = Array.from(frame, (b) => Uint8Array.of(b));
  const [m, ...rest] = decodeChunks(new FrameDecoder(), chunks);
  assert.equal(rest.length, 0);
  assert.equal(m.type, 'piece');
  assert.deepEqual(comparable(m), comparable({ type: 'piece', index: 3, begin: BLOCK_SIZE, block }));
});

/** Hostile input that gets past the length check often: valid frames, small frames with any id and payload, raw bytes. */
const hostileBytes = fc
  .array(
    fc.oneof(
      message.map(encodeMessage),
      fc
        .tuple(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 0, max: 255 }), fc.uint8Array({ maxLength: 40 }))
        .map(([length, id, payload]) => Buffer.concat([bytes(length.toString(16).padStart(8, '0')), Uint8Array.of(id), payload])),
      fc.uint8Array({ maxLength: 16 }),
    ),
    { maxLength: 20 },
  )
  .map((parts) => Buffer.concat(parts));

test('hostile bytes never throw anything but WireProtocolError, and decoding always stops', () => {
  fc.assert(
    fc.property(fc.oneof(hostileBytes, fc.uint8Array({ maxLength: 2000 })), fc.array(fc.nat(), { maxLength: 20 }), (garbage, cuts) => {
      const decoder = new FrameDecoder({ maxMessageLength: 64 });
      let calls = 0;
      try {
        for (const chunk of split(garbage, cuts)) {
          decoder.push(chunk);
          while (decoder.next() !== undefined) assert.ok(++calls <= garbage.length / 4, 'more messages than frames');
        }
      } catch (e) {
        assert.ok(e instanceof WireProtocolError, `unexpected ${String(e)}`);
      }
    }),
    { numRuns: 500 },
  );
});

test('a 4 GB length prefix is refused from its 4 bytes alone, nothing buffered', () => {
  const decoder = new FrameDecoder();
  decoder.push(bytes('ffffffff'));
  assert.throws(() => decoder.next(), /message length 4294967295 exceeds the limit of 131072 bytes/);
  assert.equal(decoder.bufferedLength, 0);
});

test('length prefixes above maxMessageLength are refused, the limit itself accepted', () => {
  const ok = new FrameDecoder({ maxMessageLength: 100 });
  ok.push(encodeMessage({ type: 'bitfield', bytes: new Uint8Array(99) }));
  assert.equal(ok.next()?.type, 'bitfield');
  const tooLong = new FrameDecoder({ maxMessageLength: 100 });
  tooLong.push(bytes('00000065 05'));
  assert.throws(() => tooLong.next(), WireProtocolError);
  // The default admits a bitfield for a million pieces.
  const defaults = new FrameDecoder();
  defaults.push(encodeMessage({ type: 'bitfield', bytes: new Uint8Array(DEFAULT_MAX_MESSAGE_LENGTH - 1) }));
  assert.equal(defaults.next()?.type, 'bitfield');
});

test('a piece larger than maxBlockLength is refused once its id arrives, before its block', () => {
  const decoder = new FrameDecoder();
  decoder.push(bytes(`${(9 + BLOCK_SIZE + 1).toString(16).padStart(8, '0')} 07`));
  assert.throws(() => decoder.next(), /piece block of 16385 bytes exceeds the limit of 16384/);
  const exact = new FrameDecoder();
  exact.push(encodeMessage({ type: 'piece', index: 0, begin: 0, block: new Uint8Array(BLOCK_SIZE) }));
  assert.equal(exact.next()?.type, 'piece');
});

test('fixed-size messages with the wrong length are refused from the header alone', () => {
  const wrong: [string, RegExp][] = [
    ['00000002 00', /choke message must be 1 bytes long, got 2/],
    ['00000002 01', /unchoke/],
    ['00000005 02', /interested/],
    ['00000003 03', /not interested/],
    ['00000004 04', /have message must be 5 bytes long, got 4/],
    ['00000006 04', /have message must be 5 bytes long, got 6/],
    ['0000000c 06', /request message must be 13/],
    ['0000000e 06', /request message must be 13/],
    ['0000000c 08', /cancel message must be 13/],
    ['00000002 09', /port message must be 3/],
    ['00000008 07', /piece message must be at least 9/],
    ['00000001 14', /extended message must be at least 2/],
  ];
  for (const [header, expected] of wrong) {
    const decoder = new FrameDecoder();
    decoder.push(bytes(header)); // the payload never arrives: refusal must not wait for it
    assert.throws(() => decoder.next(), expected, header);
  }
});

test('after an error the decoder stays failed', () => {
  const decoder = new FrameDecoder();
  decoder.push(bytes('00000004 04 000000'));
  assert.throws(() => decoder.next(), WireProtocolError);
  decoder.push(encodeMessage({ type: 'choke' }));
  assert.throws(() => decoder.next(), WireProtocolError);
});

test('messages before a bad frame in the same chunk are still delivered', () => {
  const decoder = new FrameDecoder();
  decoder.push(Buffer.concat([encodeMessage({ type: 'unchoke' }), encodeMessage({ type: 'have', index: 1 }), bytes('ffffffff')]));
  assert.equal(decoder.next()?.type, 'unchoke');
  assert.equal(decoder.next()?.type, 'have');
  assert.throws(() => decoder.next(), WireProtocolError);
});

test('unknown message ids are returned, not fatal, and the stream continues', () => {
  const decoder = new FrameDecoder();
  const out = decodeChunks(decoder, [bytes('00000001 0e 00000003 ff 0102 00000001 01')]);
  assert.deepEqual(out.map(comparable), [
    { type: 'unknown', id: 14, payload: '' },
    { type: 'unknown', id: 255, payload: '0102' },
    { type: 'unchoke' },
  ]);
});

test('options are validated', () => {
  assert.throws(() => new FrameDecoder({ maxMessageLength: 12 }), RangeError);
  assert.throws(() => new FrameDecoder({ maxBlockLength: -1 }), RangeError);
});
