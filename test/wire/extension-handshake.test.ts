import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encode } from '../../src/bencode/index.js';
import { WireProtocolError, decodeExtensionHandshake, encodeExtensionHandshake } from '../../src/wire/index.js';

const text = (b: Uint8Array) => Buffer.from(b).toString('latin1');

test('an extension handshake encodes as a sorted bencoded dictionary and decodes back', () => {
  const handshake = { extensions: new Map([['ut_pex', 1], ['ut_metadata', 2]]), requestQueueLimit: 2000, client: 'torrent.ts 0.1.0' };
  const bytes = encodeExtensionHandshake(handshake);
  assert.equal(text(bytes), 'd1:md11:ut_metadatai2e6:ut_pexi1ee4:reqqi2000e1:v16:torrent.ts 0.1.0e');
  assert.deepEqual(decodeExtensionHandshake(bytes), handshake);
});

test('absent fields stay absent; an empty m is no extensions', () => {
  assert.equal(text(encodeExtensionHandshake({ extensions: new Map() })), 'd1:mdee');
  assert.deepEqual(decodeExtensionHandshake(Buffer.from('de')), { extensions: new Map(), requestQueueLimit: undefined, client: undefined });
});

test("fields of the wrong type or range are ignored, as other clients' quirks are", () => {
  const payload = encode({
    m: { ut_pex: 'one', ut_metadata: 3, lt_donthave: 300, ut_holepunch: -1 },
    reqq: 'many',
    v: 42,
    p: 6881,
    yourip: Buffer.from([127, 0, 0, 1]),
  });
  assert.deepEqual(decodeExtensionHandshake(payload), { extensions: new Map([['ut_metadata', 3]]), requestQueueLimit: undefined, client: undefined });
  assert.equal(decodeExtensionHandshake(encode({ m: 'none', reqq: 0 })).requestQueueLimit, undefined);
  assert.equal(decodeExtensionHandshake(encode({ reqq: -5 })).requestQueueLimit, undefined);
});

test('a payload that is not a bencoded dictionary is a protocol error', () => {
  for (const bad of ['', 'i1e', 'le', 'd1:m', 'd1:mdeXX']) {
    assert.throws(() => decodeExtensionHandshake(Buffer.from(bad)), WireProtocolError, JSON.stringify(bad));
  }
});
