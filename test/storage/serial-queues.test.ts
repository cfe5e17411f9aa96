import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { SerialQueues } from '../../src/storage/serial-queues.js';

test('operations of one key never overlap and run in order; other keys run alongside', async () => {
  const queues = new SerialQueues<string>();
  const running = new Map<string, number>();
  const log: string[] = [];
  let mostAtOnce = 0;
  const op = (key: string, label: string, ms: number) =>
    queues.run(key, async () => {
      const now = (running.get(key) ?? 0) + 1;
      running.set(key, now);
      assert.equal(now, 1, `two operations of ${key} at once`);
      mostAtOnce = Math.max(mostAtOnce, [...running.values()].reduce((a, b) => a + b, 0));
      log.push(`start ${label}`);
      await sleep(ms);
      running.set(key, 0);
      return label;
    });
  const results = await Promise.all([op('a', 'a1', 30), op('a', 'a2', 5), op('b', 'b1', 10), op('a', 'a3', 1)]);
  assert.deepEqual(results, ['a1', 'a2', 'b1', 'a3']);
  const order = log.map((l) => l.slice('start '.length)).filter((label) => label.startsWith('a'));
  assert.deepEqual(order, ['a1', 'a2', 'a3']);
  assert.equal(mostAtOnce, 2, 'b ran while a was busy');
});

test('a failed operation rejects its own caller only; the queue goes on', async () => {
  const queues = new SerialQueues<number>();
  const failed = queues.run(1, async () => {
    throw new Error('disk full');
  });
  const next = queues.run(1, async () => 'written');
  await assert.rejects(failed, /disk full/);
  assert.equal(await next, 'written');
});
