import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { BencodeError, decode, decodePrefix, encode, type BencodeValue, MAX_DEPTH } from '../../src/bencode/index.js';

const b = (s: string) => Buffer.from(s, 'latin1');
const text = (v: BencodeValue) => Buffer.from(v as Uint8Array).toString('latin1');

test('decodes every value kind', () => {
  const { value } = decode(b('d3:agei42e4:listli-1ei0ee4:name4:spam3:rawi7ee'));
  assert.ok(value instanceof Map);
  assert.equal(value.get('age'), 42);
  assert.deepEqual(value.get('list'), [-1, 0]);
  assert.equal(text(value.get('name')!), 'spam');
});

test('byte strings stay bytes, including invalid UTF-8', () => {
  const { value } = decode(Uint8Array.from([0x33, 0x3a, 0xff, 0x00, 0xfe]));
  assert.deepEqual([...(value as Uint8Array)], [0xff, 0x00, 0xfe]);
});

for (const [input, why] of [
  ['i03e', 'leading zero'],
  ['i-0e', 'negative zero'],
  ['ie', 'empty integer'],
  ['i12', 'unterminated integer'],
  ['i1x2e', 'invalid character'],
  ['5:abc', 'runs past the end'],
  ['03:abc', 'leading zero'],
  ['l', 'unterminated list'],
  ['d3:fooe', 'key without a value'],
  ['d3:foo', 'unexpected end'],
  ['di1ei2ee', 'key is not a byte string'],
  ['d1:ai1e1:ai2ee', 'duplicate'],
  ['i1ei2e', 'trailing data'],
  ['x', 'unexpected byte'],
  ['', 'unexpected end'],
  ['i99999999999999999e', 'too large'],
] as const) {
  test(`rejects ${JSON.stringify(input)} (${why})`, () => {
    assert.throws(
      () => decode(b(input)),
      (e: unknown) => e instanceof BencodeError && e.message.includes(why) && /at byte \d+/.test(e.message),
    );
  });
}

test('error names the byte offset', () => {
  try {
    decode(b('li1ei03ee'));
    assert.fail('should throw');
  } catch (e) {
    assert.ok(e instanceof BencodeError);
    assert.equal(e.offset, 4);
  }
});

test('a 20 KB run of "l" is refused without overflowing the stack', () => {
  const deep = b('l'.repeat(20_000) + 'e'.repeat(20_000));
  assert.throws(() => decode(deep), (e: unknown) => e instanceof BencodeError && /nesting deeper/.test(e.message));
  const ok = b('l'.repeat(MAX_DEPTH) + 'e'.repeat(MAX_DEPTH));
  assert.doesNotThrow(() => decode(ok));
});

test('spanOf gives the raw bytes of a value as they appear (unsorted keys kept)', () => {
  // The info dict is deliberately unsorted: re-encoding would change its bytes and its hash.
  const raw = 'd4:infod4:name1:x6:lengthi1ee8:announce3:urle';
  const doc = decode(b(raw));
  const info = (doc.value as Map<string, BencodeValue>).get('info')!;
  const span = doc.spanOf(info)!;
  assert.equal(raw.slice(span.start, span.end), 'd4:name1:x6:lengthi1ee');
  const reencoded = Buffer.from(encode(info as Map<string, BencodeValue>)).toString('latin1');
  assert.equal(reencoded, 'd6:lengthi1e4:name1:xe');
  const hashRaw = createHash('sha1').update(b(raw).subarray(span.start, span.end)).digest('hex');
  assert.notEqual(hashRaw, createHash('sha1').update(b(reencoded)).digest('hex'));
});

test('decodePrefix allows trailing bytes and reports the end', () => {
  const r = decodePrefix(b('d1:ai1eeRAWDATA'));
  assert.equal(r.end, 8);
});

test('encoder sorts keys as raw bytes and skips undefined', () => {
  const out = encode(new Map<string, BencodeValue>([
    ['b', 1],
    ['\xff', 2],
    ['a', 3],
    ['B', 4],
  ]));
  assert.equal(Buffer.from(out).toString('latin1'), 'd1:Bi4e1:ai3e1:bi1e1:\xffi2ee');
  assert.equal(Buffer.from(encode({ z: 1, a: undefined, m: 'é' })).toString('latin1'), 'd1:m2:\xc3\xa91:zi1ee');
});

test('encoder refuses non-integers', () => {
  assert.throws(() => encode(1.5), RangeError);
});

const bencodeValue: fc.Arbitrary<BencodeValue> = fc.letrec<{ v: BencodeValue }>((tie) => ({
  v: fc.oneof(
    { depthSize: 'small' },
    fc.maxSafeInteger(),
    fc.uint8Array({ maxLength: 40 }),
    fc.array(tie('v'), { maxLength: 5 }),
    fc
      .uniqueArray(fc.tuple(fc.string({ maxLength: 8 }).map((s) => Buffer.from(s).toString('latin1')), tie('v')), {
        maxLength: 5,
        selector: (e) => e[0],
      })
      .map((entries) => new Map(entries)),
  ),
})).v;

const normalise = (v: BencodeValue): unknown =>
  v instanceof Uint8Array
    ? ['bytes', [...v]]
    : Array.isArray(v)
      ? v.map(normalise)
      : v instanceof Map
        ? [...v.entries()].sort((x, y) => (x[0] < y[0] ? -1 : 1)).map(([k, x]) => [k, normalise(x)])
        : v;

test('property: encode then decode round-trips', () => {
  fc.assert(
    fc.property(bencodeValue, (v) => {
      const bytes = encode(v);
      const back = decode(bytes).value;
      assert.deepEqual(normalise(back), normalise(v));
      assert.deepEqual(encode(back), bytes);
    }),
    { numRuns: 500 },
  );
});

test('property: random bytes only ever throw BencodeError', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
      try {
        decode(bytes);
      } catch (e) {
        assert.ok(e instanceof BencodeError, String(e));
      }
    }),
    { numRuns: 3000 },
  );
});

test('property: mutated valid documents only ever throw BencodeError', () => {
  fc.assert(
    fc.property(bencodeValue, fc.nat(), fc.integer({ min: 0, max: 255 }), (v, at, byte) => {
      const bytes = Uint8Array.from(encode(v));
      if (bytes.length === 0) return;
      bytes[at % bytes.length] = byte;
      try {
        decode(bytes);
      } catch (e) {
        assert.ok(e instanceof BencodeError, String(e));
      }
    }),
    { numRuns: 2000 },
  );
});
