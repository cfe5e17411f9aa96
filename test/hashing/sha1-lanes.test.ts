/** The native multi-lane SHA-1: every lane gives node:crypto's digest, and bad arguments throw, never crash. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { finishLanes, sha1Lanes } from '../../src/hashing/index.js';
import { bytes } from '../metainfo/torrent-builder.js';
import { STRICT_INTEROP } from '../support/interop.js';

/** False when the addon is loaded; else why the tests skip (in CI, a failure where the CPU could run it). */
function needLanes(): string | false {
  if (sha1Lanes !== undefined) return false;
  let cpuHasSha = false;
  try {
    cpuHasSha = process.arch === 'x64' && /^flags\s*:.*\bsha_ni\b/m.test(readFileSync('/proc/cpuinfo', 'utf8'));
  } catch {
    // Not Linux: nothing to read the CPU's flags from.
  }
  if (!cpuHasSha) return 'the CPU has no SHA extensions, so the native SHA-1 is not used';
  const reason = 'the native SHA-1 is not built (npm install builds it with a C compiler and Node\'s headers)';
  if (STRICT_INTEROP) throw new Error(reason);
  return reason;
}

const sha1 = (data: Uint8Array) => createHash('sha1').update(data).digest();

test('every lane gives the SHA-1 of its own message, fed in several updates, a tail left for the end', { skip: needLanes() }, () => {
  const lanes = sha1Lanes!;
  for (let count = 1; count <= 4; count++) {
    for (const length of [0, 64, 128, 64 * 1000, 256 * 1024]) {
      const messages = Array.from({ length: count }, (_, lane) => bytes(length, 7 * length + lane + 1));
      const state = new Uint8Array(20 * count);
      lanes.init(state);
      const split = Math.floor(length / 128) * 64;
      lanes.update(state, messages.map((m) => m.subarray(0, split)));
      lanes.update(state, messages.map((m) => m.subarray(split)));
      const digests = finishLanes(lanes, state, length);
      for (let lane = 0; lane < count; lane++) {
        assert.deepEqual(Buffer.from(digests.subarray(20 * lane, 20 * lane + 20)), sha1(messages[lane]), `${count} lanes, ${length} bytes, lane ${lane}`);
      }
    }
  }
});

test('a tail of 0 to 63 bytes is padded into one block or, from 56 bytes on, two', { skip: needLanes() }, () => {
  const lanes = sha1Lanes!;
  for (const tailLength of [0, 1, 55, 56, 63]) {
    const message = bytes(128 + tailLength, tailLength + 3);
    const state = new Uint8Array(20);
    lanes.init(state);
    lanes.update(state, [message.subarray(0, 128)]);
    const digest = finishLanes(lanes, state, message.length, message.subarray(128));
    assert.deepEqual(Buffer.from(digest), sha1(message), `tail of ${tailLength} bytes`);
  }
});

test('wrong arguments throw a TypeError', { skip: needLanes() }, () => {
  const lanes = sha1Lanes!;
  const state = new Uint8Array(40);
  lanes.init(state);
  assert.throws(() => lanes.init(new Uint8Array(19)), TypeError);
  assert.throws(() => lanes.init(new Uint8Array(100)), TypeError, 'five lanes');
  assert.throws(() => lanes.update(state, [new Uint8Array(64)]), TypeError, 'one array for two lanes');
  assert.throws(() => lanes.update(state, [new Uint8Array(64), new Uint8Array(128)]), TypeError, 'lengths differ');
  assert.throws(() => lanes.update(state, [new Uint8Array(65), new Uint8Array(65)]), TypeError, 'not whole blocks');
  assert.throws(() => lanes.update(new Uint8Array(new ArrayBuffer(24), 1, 20), [new Uint8Array(64)]), TypeError, 'unaligned state');
});
