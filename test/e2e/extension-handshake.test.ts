/**
 * The BEP 10 extension handshake between a downloading Client and peers on 127.0.0.1: we tell each peer how
 * many requests we queue (`reqq`) and who we are (`v`), and keep our requests to a peer within its `reqq`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { startEvilPeer } from '../support/evil-peer.js';
import { defer, E2E_TIMEOUT_MS, makeScenario, startClient } from '../support/swarm-fixture.js';

const KiB = 1024;

/** Polls `condition` every 20 ms; fails naming `what` after `timeoutMs`. */
async function until(what: string, condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await sleep(20);
  }
}

test("requests to a peer stay within its reqq; every peer gets our reqq and client name", { timeout: E2E_TIMEOUT_MS }, async (t) => {
  const s = await makeScenario(t, 'reqq.bin', 2048 * KiB, { pieceLength: 64 * KiB, seed: 31 });
  const data = await readFile(s.original);
  // Both take requests and never answer, so what they received is what we keep outstanding.
  const stalling = (requestQueueLimit?: number) =>
    startEvilPeer({ infoHash: s.meta.infoHash, data, pieceLength: s.meta.pieceLength, mode: 'stall', requestQueueLimit });
  const limited = await stalling(3);
  const unlimited = await stalling();
  defer(t, () => limited.close());
  defer(t, () => unlimited.close());

  const client = startClient(t, s.stateDir);
  await client.add(s.torrentPath, {
    path: s.outDir,
    peers: [limited, unlimited].map((p) => ({ host: '127.0.0.1', port: p.port })),
  });
  await until('both peers are asked for blocks', () => limited.stats.requests >= 3 && unlimited.stats.requests > 3);
  await sleep(300); // room for any request beyond the limit to arrive
  assert.equal(limited.stats.requests, 3, 'requests outstanding at the peer that allows 3');
  assert.ok(unlimited.stats.requests > 3, `the other peer got ${unlimited.stats.requests} requests`);

  for (const peer of [limited, unlimited]) {
    const theirs = peer.stats.extensionHandshake;
    assert.ok(theirs, 'the client sent an extension handshake');
    assert.equal(theirs.requestQueueLimit, 2000);
    assert.equal(theirs.client, 'torrent.ts 0.1.0');
  }
});
