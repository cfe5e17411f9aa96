import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { copyInto, SharedBufferPool } from '../../src/hashing/index.js';

const KiB = 1024;

test('take gives a buffer of exactly the requested length in shared memory, with one reference', () => {
  const pool = new SharedBufferPool();
  for (const length of [0, 1, 16 * KiB, 64 * KiB, 64 * KiB + 1, 300 * KiB]) {
    const buf = pool.take(length);
    assert.equal(buf.length, length);
    assert.ok(buf.buffer instanceof SharedArrayBuffer, 'pooled memory is shared (hashing threads read it in place)');
    assert.ok(buf.buffer.byteLength >= length);
    assert.equal(pool.isLive(buf), true);
    pool.release(buf);
    assert.equal(pool.isLive(buf), false, 'the only reference was released');
  }
});

test('a buffer is reused only after every reference is released', () => {
  const pool = new SharedBufferPool();
  const first = pool.take(16 * KiB);
  pool.retain(first);
  pool.retain(first.subarray(100, 200)); // a view anywhere in the buffer counts for the buffer
  // Three references: each release but the last keeps it live and out of reach of take.
  for (let left = 3; left > 1; left--) {
    pool.release(first);
    assert.equal(pool.isLive(first), true, `${left - 1} references remain`);
    const other = pool.take(16 * KiB);
    assert.notEqual(other.buffer, first.buffer, 'a retained buffer is never handed out again');
    pool.release(other);
  }
  pool.release(first.subarray(5));
  assert.equal(pool.isLive(first), false);
  // The idle list now holds `first` and the buffer taken (and released) in the loop: the most recent goes first,
  // then `first` (both are in the same size class).
  const reused = [pool.take(16 * KiB), pool.take(16 * KiB)];
  assert.ok(reused.some((b) => b.buffer === first.buffer), 'a fully released buffer is reused');
  assert.equal(pool.isLive(first), true, 'reused: live again under its new owner');
});

test('the same buffer serves requests of any length within its size class', () => {
  const pool = new SharedBufferPool();
  const a = pool.take(20 * KiB);
  const memory = a.buffer;
  pool.release(a);
  const b = pool.take(50 * KiB);
  assert.equal(b.buffer, memory);
  assert.equal(b.length, 50 * KiB);
  pool.release(b);
  const c = pool.take(200 * KiB);
  assert.notEqual(c.buffer, memory, 'a larger size class gets other memory');
});

test('retain and release of memory the pool did not hand out change nothing', () => {
  const pool = new SharedBufferPool();
  const plain = Buffer.alloc(64 * KiB);
  const foreignShared = new Uint8Array(new SharedArrayBuffer(64 * KiB));
  for (const view of [plain, foreignShared]) {
    pool.retain(view);
    pool.release(view);
    pool.release(view);
    assert.equal(pool.isLive(view), false);
  }
  // Releasing foreign memory must not put it on the idle list for take to hand out.
  const taken = pool.take(64 * KiB);
  assert.notEqual(taken.buffer, foreignShared.buffer);
  // And a stray release of foreign memory does not disturb the count of a pooled buffer.
  pool.release(foreignShared);
  assert.equal(pool.isLive(taken), true);
  pool.release(taken);
  assert.equal(pool.isLive(taken), false);
});

test('released buffers beyond maxIdleBytes are dropped, not kept for reuse', () => {
  const pool = new SharedBufferPool(128 * KiB); // room for two idle 64 KiB buffers
  const bufs = [pool.take(64 * KiB), pool.take(64 * KiB), pool.take(64 * KiB)];
  for (const b of bufs) pool.release(b);
  const kept = new Set([bufs[0].buffer, bufs[1].buffer]);
  const again = [pool.take(64 * KiB), pool.take(64 * KiB), pool.take(64 * KiB)];
  assert.ok(kept.has(again[0].buffer) && kept.has(again[1].buffer), 'the two that fit were kept');
  assert.notEqual(again[0].buffer, again[1].buffer);
  for (const b of again.slice(0, 2)) assert.notEqual(b.buffer, bufs[2].buffer);
  assert.notEqual(again[2].buffer, bufs[2].buffer, 'the third, beyond the cap, was dropped');
  assert.ok(!kept.has(again[2].buffer), 'the idle list held only two');
});

test('a pool with no idle allowance never reuses memory', () => {
  const pool = new SharedBufferPool(0);
  const a = pool.take(100);
  pool.release(a);
  const b = pool.take(100);
  assert.notEqual(b.buffer, a.buffer);
});

test('copyInto copies unaligned sources into a shared buffer at an offset', () => {
  const pool = new SharedBufferPool();
  const backing = Buffer.alloc(100);
  for (let i = 0; i < backing.length; i++) backing[i] = i + 1;
  const source = backing.subarray(13); // 87 bytes starting at an odd address
  const target = pool.take(200);
  target.fill(0xee);
  copyInto(target, source, 7);
  assert.deepEqual(target.subarray(7, 7 + source.length), source);
  assert.ok(target.subarray(0, 7).every((b) => b === 0xee), 'bytes before the offset untouched');
  assert.ok(target.subarray(7 + source.length).every((b) => b === 0xee), 'bytes after the copy untouched');

  const before = Buffer.from(target);
  copyInto(target, new Uint8Array(0), 50);
  copyInto(target, backing.subarray(100), 0);
  assert.deepEqual(Buffer.from(target), before, 'a zero-length source changes nothing');
});

test('copyInto: any source slice at any offset lands byte-exact and nothing else changes', () => {
  const pool = new SharedBufferPool();
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 0, maxLength: 300 }),
      fc.nat(300),
      fc.nat(300),
      fc.nat(300),
      (bytes, sliceStart, sliceLength, offsetSeed) => {
        const start = Math.min(sliceStart, bytes.length);
        const source = bytes.subarray(start, Math.min(bytes.length, start + sliceLength));
        const target = pool.take(400);
        try {
          target.fill(0x5a);
          const offset = offsetSeed % (target.length - source.length + 1);
          copyInto(target, source, offset);
          const expected = Buffer.alloc(400, 0x5a);
          expected.set(source, offset);
          assert.deepEqual(Buffer.from(target), expected);
        } finally {
          pool.release(target);
        }
      },
    ),
    { numRuns: 300 },
  );
});
