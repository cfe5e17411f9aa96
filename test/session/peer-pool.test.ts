import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PeerPool } from '../../src/session/peer-pool.js';
import { RateMeter } from '../../src/session/rate-meter.js';

test('peer pool dedupes, hands out each address once and backs off failures', () => {
  let now = 1_000_000;
  const pool = new PeerPool(() => now, 1000, 3);
  assert.equal(pool.add([{ host: '127.0.0.1', port: 1 }, { host: '127.0.0.1', port: 1 }, { host: '127.0.0.1', port: 2 }], 't'), 2);
  assert.equal(pool.add([{ host: '127.0.0.1', port: 0 }, { host: '127.0.0.1', port: 70000 }], 't'), 0, 'invalid ports');
  const first = pool.take(10);
  assert.equal(first.length, 2);
  assert.deepEqual(pool.take(10), [], 'connected addresses are not handed out again');
  pool.release(first[0], true);
  assert.deepEqual(pool.take(10), [], 'a failed address waits');
  now += 1000;
  assert.deepEqual(pool.take(10), [first[0]]);
  pool.release(first[0], true);
  now += 1999;
  assert.deepEqual(pool.take(10), [], 'backoff doubles');
  now += 1;
  assert.deepEqual(pool.take(10), [first[0]]);
  pool.release(first[0], true);
  now += 1_000_000;
  assert.deepEqual(pool.take(10), [], 'gives up after maxFailures');
  pool.add([first[0]], 'tracker');
  assert.deepEqual(pool.take(10), [first[0]], 'heard of again: one more chance');
});

test('a banned address is dropped and never re-added', () => {
  const pool = new PeerPool(() => 0);
  const a = { host: '127.0.0.1', port: 7000 };
  pool.add([a], 't');
  pool.ban(a);
  assert.equal(pool.add([a], 't'), 0);
  assert.ok(pool.isBannedAddress(a));
  assert.deepEqual(pool.take(5), []);
});

test('rate meter averages over its window and forgets old seconds', () => {
  let now = 10_000;
  const m = new RateMeter(5, () => now);
  for (let i = 0; i < 5; i++) {
    m.add(1000);
    now += 1000;
  }
  // Five full seconds of 1000 B, window 5 s, current second just started.
  assert.ok(Math.abs(m.rate - 1000) < 50, `rate ${m.rate}`);
  now += 10_000;
  assert.equal(m.rate, 0);
  assert.equal(m.total, 5000);
});
