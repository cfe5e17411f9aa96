/** Interop: our HTTP and UDP clients against Debian's opentracker on loopback. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { needOpentracker, startOpentracker } from '../support/opentracker.js';
import { HttpTracker } from '../../src/tracker/http-tracker.js';
import { ConnectionIdCache, UdpTracker } from '../../src/tracker/udp-tracker.js';
import { TrackerFailure, TrackerProtocolError } from '../../src/tracker/errors.js';
import type { AnnounceParams, Tracker } from '../../src/tracker/types.js';

const httpHash = Uint8Array.from({ length: 20 }, (_, i) => 0x80 + i); // bytes that all need escaping
const udpHash = Uint8Array.from({ length: 20 }, (_, i) => i);
const unlisted = new Uint8Array(20).fill(0x55);

const announce = (infoHash: Uint8Array, n: number, event?: AnnounceParams['event']): AnnounceParams => ({
  infoHash,
  peerId: new TextEncoder().encode(`-TS0001-peer${String(n).padStart(8, '0')}`),
  port: 20_000 + n,
  uploaded: 0,
  downloaded: 0,
  left: 1000,
  numwant: 50,
  ...(event ? { event } : {}),
});

test('opentracker: two announces over HTTP and over UDP see each other', { skip: needOpentracker() }, async (t) => {
  const tracker = await startOpentracker([httpHash, udpHash]);
  t.after(() => tracker.stop());
  const clients: [Tracker, Uint8Array][] = [
    [new HttpTracker(tracker.httpUrl), httpHash],
    [new UdpTracker(tracker.udpUrl, { retransmitBaseMs: 2000, connectionIds: new ConnectionIdCache() }), udpHash],
  ];
  for (const [client, hash] of clients) {
    await client.announce(announce(hash, 1, 'started'));
    const second = await client.announce(announce(hash, 2, 'started'));
    // opentracker may or may not list the announcing peer itself; the other one must be there.
    assert.ok(second.peers.some((p) => p.host === '127.0.0.1' && p.port === 20_001), `${client.url}: ${JSON.stringify(second.peers)}`);
    assert.equal(second.incomplete, 2);
    assert.ok(second.interval > 0);
    const first = await client.announce(announce(hash, 1));
    assert.ok(first.peers.some((p) => p.host === '127.0.0.1' && p.port === 20_002), `${client.url}: ${JSON.stringify(first.peers)}`);
  }
});

test('opentracker: a refused torrent surfaces the failure reason (HTTP) and is a typed error (UDP)', { skip: needOpentracker() }, async (t) => {
  const tracker = await startOpentracker([httpHash]);
  t.after(() => tracker.stop());
  await assert.rejects(
    new HttpTracker(tracker.httpUrl).announce(announce(unlisted, 1, 'started')),
    (e: unknown) => e instanceof TrackerFailure && /not authorized/.test(e.reason),
  );
  // opentracker answers a UDP announce for an unlisted torrent with a bare 8-byte header.
  await assert.rejects(
    new UdpTracker(tracker.udpUrl, { retransmitBaseMs: 2000, connectionIds: new ConnectionIdCache() }).announce(announce(unlisted, 1, 'started')),
    TrackerProtocolError,
  );
});
