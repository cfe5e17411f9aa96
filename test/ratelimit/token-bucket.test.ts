import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setImmediate as nextMacrotask } from 'node:timers/promises';
import { TokenBucket, type Scheduler } from '../../src/ratelimit/index.js';

/** A clock and timer queue that only move when the test says so. */
class ManualTime {
  time = 0;
  private timers: { at: number; callback: () => void }[] = [];
  readonly now = () => this.time;
  readonly schedule: Scheduler = (callback, delayMs) => {
    const timer = { at: this.time + delayMs, callback };
    this.timers.push(timer);
    return () => {
      this.timers = this.timers.filter((t) => t !== timer);
    };
  };

  get pendingTimers(): number {
    return this.timers.length;
  }

  /** Moves time forward, firing due timers in order and letting promise callbacks run after each. */
  async advance(ms: number): Promise<void> {
    const target = this.time + ms;
    await nextMacrotask();
    for (;;) {
      const due = this.timers.filter((t) => t.at <= target).sort((a, b) => a.at - b.at)[0];
      if (!due) break;
      this.timers = this.timers.filter((t) => t !== due);
      this.time = due.at;
      due.callback();
      await nextMacrotask();
    }
    this.time = target;
  }

  bucket(rate: number, burst?: number, parent?: TokenBucket): TokenBucket {
    return new TokenBucket({ rate, burst, parent, now: this.now, schedule: this.schedule });
  }
}

/** Starts a consume and records when (on the manual clock) it resolves or rejects. */
function track(time: ManualTime, promise: Promise<void>): { settledAt?: number; error?: unknown } {
  const record: { settledAt?: number; error?: unknown } = {};
  promise.then(
    () => (record.settledAt = time.time),
    (error: unknown) => {
      record.settledAt = time.time;
      record.error = error;
    },
  );
  return record;
}

test('take spends the burst, then only what accrued', async () => {
  const time = new ManualTime();
  const bucket = time.bucket(1000, 500); // 1 byte per ms
  assert.equal(bucket.take(500), true);
  assert.equal(bucket.take(1), false);
  await time.advance(100);
  assert.equal(bucket.take(101), false);
  assert.equal(bucket.take(100), true);
  await time.advance(10_000);
  assert.equal(bucket.take(501), false, 'never more than the burst');
  assert.equal(bucket.take(500), true);
});

test('reserve goes into debt and says how long to wait, first come first served', async () => {
  const time = new ManualTime();
  const bucket = time.bucket(1000, 1000);
  assert.equal(bucket.reserve(1000), 0);
  assert.equal(bucket.reserve(500), 500);
  assert.equal(bucket.reserve(500), 1000);
  assert.equal(bucket.take(1), false, 'reservations come first');
  await time.advance(999);
  assert.equal(bucket.take(1), false);
  await time.advance(2);
  assert.equal(bucket.take(1), true);
});

test('consume releases waiters smoothly and in arrival order', async () => {
  const time = new ManualTime();
  const bucket = time.bucket(1000, 100);
  const waiters = [0, 1, 2, 3, 4].map(() => track(time, bucket.consume(100)));
  await time.advance(1000);
  assert.deepEqual(
    waiters.map((waiter) => waiter.settledAt),
    [0, 100, 200, 300, 400],
  );
  assert.equal(time.pendingTimers, 0, 'no timer left once nobody waits');
});

test('a request larger than the burst is granted and its debt delays the next one', async () => {
  const time = new ManualTime();
  const bucket = time.bucket(1000, 100);
  const big = track(time, bucket.consume(1000));
  const small = track(time, bucket.consume(100));
  await time.advance(2000);
  assert.equal(big.settledAt, 0);
  assert.equal(small.settledAt, 1000, '900 bytes of debt plus 100 bytes take one second');
});

test('setRate reschedules queued waiters and 0 lifts the limit', async () => {
  const time = new ManualTime();
  const bucket = time.bucket(100); // 0.1 byte per ms, burst 100
  assert.equal(bucket.take(100), true);
  const first = track(time, bucket.consume(100));
  const second = track(time, bucket.consume(100));
  await time.advance(500); // 50 bytes accrued
  bucket.setRate(1000);
  assert.equal(bucket.burst, 1000, 'the default burst follows the rate');
  await time.advance(100);
  assert.equal(first.settledAt, 550, 'the missing 50 bytes now take 50 ms');
  assert.equal(second.settledAt, undefined);
  bucket.setRate(0);
  await time.advance(0);
  assert.equal(second.settledAt, 600);
  assert.equal(bucket.take(1e9), true);
  assert.equal(bucket.reserve(1e9), 0);
  assert.throws(() => bucket.setRate(-1), RangeError);
  assert.throws(() => bucket.setRate(10, 0), RangeError);
  assert.throws(() => bucket.take(-1), RangeError);
});

test('a child bucket draws from its parent as well', async () => {
  const time = new ManualTime();
  const global = time.bucket(1000, 100);
  const torrentA = time.bucket(0, undefined, global);
  const torrentB = time.bucket(0, undefined, global);
  assert.equal(torrentA.take(100), true);
  assert.equal(torrentB.take(1), false, 'the global bucket is empty');

  // Both torrents share the global 1000 bytes/s.
  let sent = 0;
  const pump = async (bucket: TokenBucket) => {
    while (time.time < 10_000) {
      await bucket.consume(50);
      sent += 50;
    }
  };
  const done = Promise.all([pump(torrentA), pump(torrentB)]);
  await time.advance(10_000);
  await time.advance(100);
  await done;
  assert.ok(sent >= 9_900 && sent <= 10_200, `sent ${sent} bytes in 10 s at 1000 bytes/s`);

  // A child slower than its parent is held to its own rate.
  const slow = time.bucket(100, 100, global);
  const start = time.time;
  const finished = track(time, slow.consume(100).then(() => slow.consume(100)));
  await time.advance(5_000);
  assert.equal(finished.settledAt, start + 1000);
});

test('an aborted consume leaves the queue and hands back what it was granted', async () => {
  const time = new ManualTime();
  const bucket = time.bucket(1000, 100);
  assert.equal(bucket.take(100), true);
  const controller = new AbortController();
  const aborted = track(time, bucket.consume(100, controller.signal));
  const next = track(time, bucket.consume(50));
  await time.advance(10);
  controller.abort(new Error('peer gone'));
  await time.advance(100);
  assert.equal((aborted.error as Error).message, 'peer gone');
  assert.equal(aborted.settledAt, 10);
  assert.equal(next.settledAt, 50, 'the next waiter moves up');

  // Granted by the child, still waiting on the parent: the child gets its bytes back.
  const parent = time.bucket(1000, 100);
  assert.equal(parent.take(100), true);
  const child = time.bucket(100, 100, parent); // 0.1 byte per ms
  const stop = new AbortController();
  const pending = track(time, child.consume(100, stop.signal));
  await time.advance(10);
  stop.abort();
  await time.advance(100);
  assert.equal((pending.error as { name?: string }).name, 'AbortError');
  assert.equal(child.take(100), true, 'the child was refunded (without it, it would hold 11 bytes)');
  await assert.rejects(child.consume(1, AbortSignal.abort()), { name: 'AbortError' });
});

test('real time: consuming through a 1 MiB/s bucket achieves 1 MiB/s within 15 %', async () => {
  const MiB = 1024 * 1024;
  const burst = 64 * 1024;
  const bucket = new TokenBucket({ rate: MiB, burst });
  const total = 3 * MiB;
  const start = performance.now();
  // Two concurrent senders of 16 KiB blocks, like two peers sharing the limit.
  const sender = async () => {
    for (let sent = 0; sent < total / 2; sent += 16 * 1024) await bucket.consume(16 * 1024);
  };
  await Promise.all([sender(), sender()]);
  const seconds = (performance.now() - start) / 1000;
  const rate = (total - burst) / seconds; // the initial burst is free
  assert.ok(Math.abs(rate - MiB) <= 0.15 * MiB, `achieved ${(rate / MiB).toFixed(3)} MiB/s over ${seconds.toFixed(2)} s`);
});

test('limited: a bucket is limited when it or any parent has a rate', () => {
  const global = new TokenBucket({ rate: 0 });
  const torrent = new TokenBucket({ rate: 0, parent: global });
  assert.equal(torrent.limited, false);
  global.setRate(1024);
  assert.equal(torrent.limited, true, 'a global limit applies to the torrent');
  global.setRate(0);
  torrent.setRate(2048);
  assert.equal(torrent.limited, true);
  assert.equal(global.limited, false, 'a child limit does not limit the parent');
});
