import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import fc from 'fast-check';
import { Sha1Pool, Sha1PoolError, sharedBuffers } from '../../src/hashing/index.js';

const sha1 = (...parts: Uint8Array[]) => {
  const hash = createHash('sha1');
  for (const p of parts) hash.update(p);
  return hash.digest();
};

/** `data` cut at the given points (sorted, clamped): consecutive, possibly empty, slices. */
function cut(data: Uint8Array, points: number[]): Uint8Array[] {
  const at = [0, ...points.map((p) => p % (data.length + 1)).sort((a, b) => a - b), data.length];
  return at.slice(1).map((end, i) => data.subarray(at[i], end));
}

/** A pool for one test, closed when the test ends however it ends. */
async function withPool(threads: number, body: (pool: Sha1Pool) => Promise<void>): Promise<void> {
  const pool = new Sha1Pool({ threads });
  try {
    await body(pool);
  } finally {
    await pool.close();
  }
}

const dataAndCuts = fc.tuple(fc.uint8Array({ minLength: 0, maxLength: 4000 }), fc.array(fc.nat(), { maxLength: 8 }));

test('chunks in pooled shared buffers, released by the caller at once, hash to node:crypto SHA-1', async () => {
  await withPool(2, async (pool) => {
    await fc.assert(
      fc.asyncProperty(dataAndCuts, async ([data, points]) => {
        const stream = pool.stream();
        for (const chunk of cut(data, points)) {
          const buf = sharedBuffers.take(chunk.length);
          buf.set(chunk);
          stream.update(buf);
          // The stream keeps its own reference: the buffer must not be handed out (and overwritten by the
          // next chunk) before the hashing thread has read it.
          sharedBuffers.release(buf);
        }
        assert.deepEqual(await stream.digest(), sha1(data));
      }),
      { numRuns: 60 },
    );
  });
});

test('chunks in ordinary memory, unaligned subarrays included, are copied: changing them afterwards is harmless', async () => {
  await withPool(2, async (pool) => {
    await fc.assert(
      fc.asyncProperty(dataAndCuts, fc.nat(7), async ([data, points], shift) => {
        const stream = pool.stream();
        for (const chunk of cut(data, points)) {
          const backing = Buffer.alloc(chunk.length + shift + 3);
          const view = backing.subarray(shift, shift + chunk.length);
          view.set(chunk);
          stream.update(view);
          backing.fill(0xa5); // the caller reuses its memory at once
        }
        assert.deepEqual(await stream.digest(), sha1(data));
      }),
      { numRuns: 60 },
    );
  });
});

test('views of a SharedArrayBuffer the pool does not own are hashed in place', async () => {
  await withPool(1, async (pool) => {
    await fc.assert(
      fc.asyncProperty(dataAndCuts, async ([data, points]) => {
        const shared = new Uint8Array(new SharedArrayBuffer(data.length + 1), 1, data.length);
        shared.set(data);
        const stream = pool.stream();
        let at = 0;
        for (const chunk of cut(data, points)) {
          stream.update(shared.subarray(at, at + chunk.length));
          at += chunk.length;
        }
        assert.equal(sharedBuffers.isLive(shared), false, 'foreign shared memory is not adopted by the pool');
        assert.deepEqual(await stream.digest(), sha1(data));
      }),
      { numRuns: 40 },
    );
  });
});

test('zeros(n) hashes like n zero bytes, mixed with data, across the worker’s 64 KiB zero chunks', async () => {
  await withPool(1, async (pool) => {
    const head = Buffer.from('head');
    const tail = Buffer.from('tail');
    for (const n of [0, 1, 1000, 64 * 1024, 64 * 1024 + 1, 200_000]) {
      const stream = pool.stream();
      stream.update(head);
      stream.zeros(n);
      stream.update(tail);
      assert.deepEqual(await stream.digest(), sha1(head, Buffer.alloc(n), tail), `zeros(${n})`);
      const only = pool.stream();
      only.zeros(n);
      assert.deepEqual(await only.digest(), sha1(Buffer.alloc(n)), `only zeros(${n})`);
    }
  });
});

test('many interleaved streams on two threads each get their own digest', async () => {
  await withPool(2, async (pool) => {
    const inputs = Array.from({ length: 12 }, (_, i) => Buffer.from(Array.from({ length: 3000 + i * 37 }, (_, j) => (j * (i + 3)) & 0xff)));
    const streams = inputs.map(() => pool.stream());
    // Round-robin 100-byte chunks, so updates of all streams are interleaved on both threads.
    for (let at = 0; inputs.some((d) => at < d.length); at += 100) {
      for (const [i, d] of inputs.entries()) if (at < d.length) streams[i].update(d.subarray(at, at + 100));
    }
    // Digests requested in reverse order of creation, all outstanding together.
    const digests = await Promise.all(streams.map((s) => s).reverse().map((s) => s.digest()));
    digests.reverse();
    for (const [i, d] of inputs.entries()) assert.deepEqual(digests[i], sha1(d), `stream ${i}`);
    assert.equal(new Set(digests.map((d) => d.toString('hex'))).size, inputs.length);
  });
});

test('a discarded stream leaves the others intact; it cannot be fed afterwards', async () => {
  await withPool(2, async (pool) => {
    const kept = pool.stream();
    const dropped = pool.stream();
    const sameThread = pool.stream(); // with two threads, this one shares a thread with `kept`
    kept.update(Buffer.from('kept '));
    dropped.update(Buffer.from('dropped'));
    sameThread.update(Buffer.from('same'));
    dropped.discard();
    dropped.discard(); // twice is harmless
    assert.throws(() => dropped.update(Buffer.from('x')));
    assert.throws(() => dropped.zeros(1));
    kept.update(Buffer.from('data'));
    assert.deepEqual(await kept.digest(), sha1(Buffer.from('kept data')));
    assert.deepEqual(await sameThread.digest(), sha1(Buffer.from('same')));
    const later = pool.stream();
    later.update(Buffer.from('later'));
    assert.deepEqual(await later.digest(), sha1(Buffer.from('later')));
  });
});

test('an empty stream digests to the SHA-1 of nothing; a finished stream refuses further use', async () => {
  await withPool(1, async (pool) => {
    const stream = pool.stream();
    stream.update(new Uint8Array(0));
    assert.deepEqual(await stream.digest(), sha1());
    assert.throws(() => stream.update(Buffer.from('more')), /finished/);
    assert.throws(() => stream.zeros(10), /finished/);
    assert.throws(() => stream.digest(), /finished/);
    stream.discard(); // no effect after digest
  });
});

test('close() rejects digests still owed, and the pool refuses new streams', async () => {
  const pool = new Sha1Pool({ threads: 2 });
  try {
    const streams = [pool.stream(), pool.stream()];
    const unstarted = pool.stream();
    for (const s of streams) s.update(Buffer.alloc(100_000, 7));
    // Handlers attached before closing: the rejections come during close().
    const owed = streams.map((s) => assert.rejects(s.digest(), Sha1PoolError));
    await pool.close();
    await Promise.all(owed);
    assert.throws(() => pool.stream(), Sha1PoolError);
    // A stream created before close cannot produce a digest either.
    unstarted.update(Buffer.from('late'));
    await assert.rejects(unstarted.digest(), Sha1PoolError);
  } finally {
    await pool.close();
  }
});

test('pooled buffers a stream read are released once hashed', async () => {
  await withPool(2, async (pool) => {
    const stream = pool.stream();
    const other = pool.stream();
    const bufs = [sharedBuffers.take(5000), sharedBuffers.take(70_000), sharedBuffers.take(10)];
    const expected: Uint8Array[] = [];
    for (const [i, buf] of bufs.entries()) {
      buf.fill(i + 1);
      // A subarray of a pooled buffer holds the whole buffer.
      const view = buf.subarray(3);
      stream.update(view);
      other.update(view);
      expected.push(view);
    }
    const want = sha1(...expected.map((v) => Buffer.from(v)));
    for (const buf of bufs) sharedBuffers.release(buf);
    for (const buf of bufs) assert.equal(sharedBuffers.isLive(buf), true, 'still held by the streams until hashed');
    assert.deepEqual(await stream.digest(), want);
    assert.deepEqual(await other.digest(), want);
    for (const buf of bufs) assert.equal(sharedBuffers.isLive(buf), false, 'every reference released after hashing');
  });
});

test("update() resolves once the thread has read the bytes, with the stream's reference already released", async () => {
  await withPool(1, async (pool) => {
    const stream = pool.stream();
    const buf = sharedBuffers.take(200_000).fill(7);
    const read = stream.update(buf);
    sharedBuffers.release(buf);
    assert.equal(sharedBuffers.isLive(buf), true, 'held until read');
    await read;
    assert.equal(sharedBuffers.isLive(buf), false, 'released when update() resolved');
    // Ordinary memory is copied into a pooled buffer, which is read and released the same way.
    await stream.update(Buffer.alloc(1000, 7));
    assert.deepEqual(await stream.digest(), sha1(Buffer.alloc(200_000, 7), Buffer.alloc(1000, 7)));
  });
});

test('buffers held by a closed pool are released once its threads have stopped', async () => {
  const pool = new Sha1Pool({ threads: 1 });
  const buf = sharedBuffers.take(50_000);
  try {
    const stream = pool.stream();
    stream.update(buf);
    sharedBuffers.release(buf);
    const owed = assert.rejects(stream.digest(), Sha1PoolError);
    await pool.close();
    await owed;
    assert.equal(sharedBuffers.isLive(buf), false);
  } finally {
    await pool.close();
  }
});
