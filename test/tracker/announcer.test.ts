import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { TrackerAnnouncer } from '../../src/tracker/announcer.js';
import type { AnnouncerTimers, TrackerAnnouncerOptions } from '../../src/tracker/announcer.js';
import { TrackerServer } from '../../src/tracker/server.js';
import { HttpTracker } from '../../src/tracker/http-tracker.js';
import { TrackerRequestError, UnsupportedTrackerError } from '../../src/tracker/errors.js';
import type { AnnounceParams, AnnounceResult, PeerAddress, Tracker } from '../../src/tracker/types.js';

/** Timers driven by the test: nothing fires until advance() moves the clock past it. */
class ManualClock implements AnnouncerTimers {
  now = 1_000_000;
  private nextId = 1;
  private readonly timers = new Map<number, { at: number; callback: () => void }>();

  setTimeout(callback: () => void, ms: number): unknown {
    const id = this.nextId++;
    this.timers.set(id, { at: this.now + ms, callback });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number);
  }

  /** Delays of the timers still pending, soonest first. */
  pending(): number[] {
    return [...this.timers.values()].map((t) => t.at - this.now).sort((a, b) => a - b);
  }

  async advance(ms: number): Promise<void> {
    const target = this.now + ms;
    for (;;) {
      const due = [...this.timers.entries()].filter(([, t]) => t.at <= target).sort((a, b) => a[1].at - b[1].at)[0];
      if (due === undefined) break;
      this.timers.delete(due[0]);
      this.now = due[1].at;
      due[1].callback();
      await settle();
    }
    this.now = target;
    await settle();
  }
}

/** Lets pending promise chains (announce rounds against in-memory trackers) run to completion. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

/** An in-memory tracker whose answers the test sets; it records every announce. */
class ScriptedTracker implements Tracker {
  readonly calls: AnnounceParams[] = [];
  answer: (params: AnnounceParams, signal?: AbortSignal) => Promise<AnnounceResult> = async () => ({ interval: 1800, peers: [] });
  constructor(readonly url: string) {}
  announce(params: AnnounceParams, signal?: AbortSignal): Promise<AnnounceResult> {
    this.calls.push(params);
    return this.answer(params, signal);
  }
  get events(): (string | undefined)[] {
    return this.calls.map((c) => c.event);
  }
}

const failing = async (): Promise<AnnounceResult> => {
  throw new TrackerRequestError('connection refused');
};

interface Harness {
  announcer: TrackerAnnouncer;
  clock: ManualClock;
  trackers: Map<string, ScriptedTracker>;
  warnings: [string, string | Error][];
  peers: [PeerAddress[], string][];
  announced: string[];
  stats: { uploaded: number; downloaded: number; left: number };
}

function harness(tiers: string[][], options: Partial<TrackerAnnouncerOptions> = {}): Harness {
  const clock = new ManualClock();
  const trackers = new Map<string, ScriptedTracker>();
  const h: Harness = {
    clock,
    trackers,
    warnings: [],
    peers: [],
    announced: [],
    stats: { uploaded: 0, downloaded: 0, left: 500 },
    announcer: undefined as unknown as TrackerAnnouncer,
  };
  h.announcer = new TrackerAnnouncer({
    tiers,
    infoHash: new Uint8Array(20).fill(1),
    peerId: new Uint8Array(20).fill(2),
    port: 6881,
    stats: () => ({ ...h.stats }),
    onPeers: (p, source) => h.peers.push([p, source]),
    onWarning: (url, problem) => h.warnings.push([url, problem]),
    onAnnounce: (url) => h.announced.push(url),
    createTracker: (url) => {
      if (url.startsWith('ftp:')) throw new UnsupportedTrackerError(url, 'no ftp');
      const t = new ScriptedTracker(url);
      trackers.set(url, t);
      return t;
    },
    timers: clock,
    now: () => clock.now,
    random: () => 0.999_999, // keeps tier order as given; the shuffle has its own test
    retryInitialMs: 15_000,
    retryMaxMs: 120_000,
    ...options,
  });
  return h;
}

test('a failing tier retries with exponential backoff up to the cap, and resets after success', async () => {
  const h = harness([['http://a/']]);
  const a = h.trackers.get('http://a/')!;
  a.answer = failing;
  h.announcer.start();
  await settle();
  assert.equal(a.calls.length, 1);
  const delays: number[] = [];
  for (let i = 0; i < 5; i++) {
    const [delay] = h.clock.pending();
    delays.push(delay);
    await h.clock.advance(delay);
  }
  assert.deepEqual(delays, [15_000, 30_000, 60_000, 120_000, 120_000]);
  assert.equal(a.calls.length, 6);
  assert.equal(h.warnings.length, 6);
  assert.ok(h.warnings.every(([url, e]) => url === 'http://a/' && e instanceof TrackerRequestError));
  assert.ok(a.events.every((e) => e === 'started'), 'started until a tracker accepts it');

  a.answer = async () => ({ interval: 600, peers: [] });
  await h.clock.advance(h.clock.pending()[0]);
  assert.deepEqual(h.clock.pending(), [600_000]);
  a.answer = failing;
  await h.clock.advance(600_000);
  assert.deepEqual(h.clock.pending(), [15_000], 'backoff starts over');
  assert.equal(a.calls.at(-1)?.event, undefined);
  await h.announcer.stop();
});

test('BEP 12: each tier is shuffled once; a tracker that answers moves to the front of its tier', async () => {
  const shuffled = harness([['http://a/', 'http://b/', 'http://c/']], { random: () => 0 });
  assert.deepEqual(shuffled.announcer.tierUrls, [['http://b/', 'http://c/', 'http://a/']]);

  const h = harness([['http://a/', 'http://b/', 'http://c/']]);
  const [a, b, c] = ['http://a/', 'http://b/', 'http://c/'].map((u) => h.trackers.get(u)!);
  a.answer = failing;
  b.answer = failing;
  c.answer = async () => ({ interval: 900, peers: [{ host: '127.0.0.1', port: 7 }] });
  h.announcer.start();
  await settle();
  assert.deepEqual([a.calls.length, b.calls.length, c.calls.length], [1, 1, 1]);
  assert.deepEqual(h.announcer.tierUrls, [['http://c/', 'http://a/', 'http://b/']]);
  assert.deepEqual(h.warnings.map(([url]) => url), ['http://a/', 'http://b/']);
  assert.deepEqual(h.peers, [[[{ host: '127.0.0.1', port: 7 }], 'http://c/']]);
  await h.clock.advance(900_000);
  assert.deepEqual([a.calls.length, b.calls.length, c.calls.length], [1, 1, 2], 'the working tracker is asked first');
  assert.deepEqual(c.events, ['started', undefined]);

  // c dies: a is next in line and, never having seen us, gets `started`.
  c.answer = failing;
  a.answer = async () => ({ interval: 900, peers: [] });
  await h.clock.advance(900_000);
  assert.deepEqual(a.events, ['started', 'started']);
  assert.deepEqual(h.announcer.tierUrls, [['http://a/', 'http://c/', 'http://b/']]);
  await h.announcer.stop();
  assert.equal(a.calls.at(-1)?.event, 'stopped');
  assert.equal(c.calls.at(-1)?.event, 'stopped', 'c accepted our start earlier, so it is told we stop');
  assert.equal(b.calls.length, 1);
});

test('every tier is announced to, each on its own schedule', async () => {
  const h = harness([['http://a/'], ['http://b/']]);
  const a = h.trackers.get('http://a/')!;
  const b = h.trackers.get('http://b/')!;
  a.answer = async () => ({ interval: 100, peers: [{ host: '127.0.0.1', port: 1 }] });
  b.answer = async () => ({ interval: 300, peers: [{ host: '127.0.0.1', port: 2 }] });
  h.announcer.start();
  await settle();
  assert.deepEqual(h.peers.map(([, source]) => source).sort(), ['http://a/', 'http://b/']);
  assert.deepEqual(h.announced.sort(), ['http://a/', 'http://b/']);
  assert.deepEqual(h.clock.pending(), [100_000, 300_000]);
  await h.clock.advance(300_000);
  assert.deepEqual([a.calls.length, b.calls.length], [4, 2]);
  await h.announcer.stop();
});

test('events: started, then regular, completed at once when the download finishes, stopped on stop', async () => {
  const h = harness([['http://a/']]);
  const a = h.trackers.get('http://a/')!;
  a.answer = async () => ({ interval: 1800, minInterval: 900, peers: [], warning: 'slow down' });
  h.announcer.start();
  await settle();
  await h.clock.advance(1_800_000);
  h.stats = { uploaded: 10, downloaded: 500, left: 0 };
  h.announcer.completed();
  await settle();
  await h.clock.advance(1_800_000);
  const stopping = h.announcer.stop();
  assert.deepEqual(h.clock.pending(), [], 'stop clears every timer');
  await stopping;
  assert.deepEqual(a.events, ['started', undefined, 'completed', undefined, 'stopped']);
  assert.deepEqual(
    a.calls.map((c) => [c.left, c.downloaded, c.uploaded]),
    [[500, 0, 0], [500, 0, 0], [0, 500, 10], [0, 500, 10], [0, 500, 10]],
  );
  assert.equal(a.calls.at(-1)?.numwant, 0);
  assert.ok(a.calls.slice(0, -1).every((c) => c.numwant === 50));
  assert.equal(new Set(a.calls.map((c) => c.key)).size, 1, 'one key for the whole session');
  assert.deepEqual(h.warnings, Array(4).fill(['http://a/', 'slow down']));
  await h.clock.advance(10_000_000);
  assert.equal(a.calls.length, 5, 'nothing after stop');
});

test('completed before the first answer rides on the pending round; started with left=0 needs no completed', async () => {
  const h = harness([['http://a/']]);
  const a = h.trackers.get('http://a/')!;
  h.stats.left = 0;
  h.announcer.start();
  h.announcer.completed();
  await settle();
  await h.clock.advance(1_800_000);
  assert.deepEqual(a.events, ['started', undefined]);
  await h.announcer.stop();
});

test('announceNow waits for the min interval (the tracker\'s, or our floor); intervals have that floor too', async () => {
  const h = harness([['http://a/'], ['http://b/'], ['http://c/']], { minimumIntervalMs: 60_000 });
  const [a, b, c] = ['http://a/', 'http://b/', 'http://c/'].map((u) => h.trackers.get(u)!);
  a.answer = async () => ({ interval: 1800, minInterval: 300, peers: [] });
  b.answer = async () => ({ interval: 1800, peers: [] }); // no min interval: our 60 s floor applies
  c.answer = async () => ({ interval: 5, peers: [] }); // below our floor: re-announced every 60 s
  h.announcer.start();
  await settle();
  assert.deepEqual(h.clock.pending(), [60_000, 1_800_000, 1_800_000]);
  await h.clock.advance(100_000);
  assert.deepEqual([a.calls.length, b.calls.length, c.calls.length], [1, 1, 2]);
  h.announcer.announceNow();
  await settle();
  assert.deepEqual([a.calls.length, b.calls.length, c.calls.length], [1, 2, 2], 'only b is past its min interval');
  assert.deepEqual(h.clock.pending(), [20_000, 200_000, 1_800_000], 'a moved up to the end of its min interval');
  await h.clock.advance(200_000);
  assert.deepEqual([a.calls.length, b.calls.length], [2, 2]);
  await h.announcer.stop();
});

test('unusable URLs are warnings at start, and a stop during an announce abandons it quietly', async () => {
  const h = harness([['ftp://x/', 'http://a/']]);
  const a = h.trackers.get('http://a/')!;
  let aborted = false;
  a.answer = (_p, signal) =>
    new Promise((_resolve, reject) =>
      signal?.addEventListener('abort', () => {
        aborted = true;
        reject(signal.reason);
      }),
    );
  h.announcer.start();
  await settle();
  assert.equal(h.warnings.length, 1);
  assert.equal(h.warnings[0][0], 'ftp://x/');
  assert.ok(h.warnings[0][1] instanceof UnsupportedTrackerError);
  await h.announcer.stop();
  assert.ok(aborted);
  assert.equal(h.warnings.length, 1, 'the abandoned announce is no warning');
  assert.deepEqual(a.events, ['started'], 'a tracker that never answered gets no stopped');
  assert.deepEqual(h.clock.pending(), []);
});

async function closedTcpPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function closedUdpPort(): Promise<number> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const { port } = socket.address();
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  return port;
}

test('real trackers: dead tiers beside working ones still yield peers, with warnings; stop leaves no timers', async (t) => {
  const server = await TrackerServer.start({ intervalSeconds: 1800 });
  t.after(() => server.close());
  const infoHash = new Uint8Array(20).fill(9);
  // Somebody is already in the swarm.
  await new HttpTracker(server.httpUrl).announce({
    infoHash,
    peerId: new Uint8Array(20).fill(3),
    port: 45_000,
    uploaded: 0,
    downloaded: 0,
    left: 0,
    event: 'started',
  });
  const deadUdp = `udp://127.0.0.1:${await closedUdpPort()}`;
  const deadHttp = `http://127.0.0.1:${await closedTcpPort()}/announce`;
  const timersBefore = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

  const warnings: string[] = [];
  const peers: [PeerAddress[], string][] = [];
  let announced!: () => void;
  const bothAnswered = new Promise<void>((resolve) => (announced = resolve));
  const announcer = new TrackerAnnouncer({
    tiers: [[deadUdp], [deadHttp], [server.httpUrl], [server.udpUrl]],
    infoHash,
    peerId: new Uint8Array(20).fill(4),
    port: 45_001,
    stats: () => ({ uploaded: 0, downloaded: 0, left: 100 }),
    onPeers: (p, source) => {
      peers.push([p, source]);
      if (peers.length === 2) announced();
    },
    onWarning: (url) => warnings.push(url),
  });
  t.after(() => announcer.stop());
  announcer.start();
  await bothAnswered;
  for (const [list] of peers) assert.deepEqual(list, [{ host: '127.0.0.1', port: 45_000 }]);
  assert.deepEqual(peers.map(([, source]) => source).sort(), [server.httpUrl, server.udpUrl].sort());
  // Both dead tiers fail fast (connection refused) and are reported.
  while (warnings.length < 2) await new Promise((resolve) => setTimeout(resolve, 10));
  assert.deepEqual(warnings.sort(), [deadHttp, deadUdp].sort());
  assert.equal(server.swarmSize(infoHash), 2);

  await announcer.stop();
  assert.equal(server.swarmSize(infoHash), 1, 'stopped reached the tracker');
  const timersAfter = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
  assert.ok(timersAfter <= timersBefore, `timers left behind: ${timersAfter} > ${timersBefore}`);
});

test('a tracker that never answers is a warning once the announce deadline passes', async () => {
  const h = harness([['http://a/']], { announceTimeoutMs: 20 });
  const a = h.trackers.get('http://a/')!;
  a.answer = (_p, signal) => new Promise((_resolve, reject) => signal?.addEventListener('abort', () => reject(signal.reason)));
  h.announcer.start();
  while (h.warnings.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
  const [url, problem] = h.warnings[0];
  assert.equal(url, 'http://a/');
  assert.ok(problem instanceof TrackerRequestError && /no answer within 20 ms/.test(problem.message), String(problem));
  assert.deepEqual(h.clock.pending(), [15_000], 'and the tier backs off');
  await h.announcer.stop();
});

test('absurd intervals are capped at a day (setTimeout would overflow and fire at once)', async () => {
  const h = harness([['http://a/']]);
  h.trackers.get('http://a/')!.answer = async () => ({ interval: 2 ** 31, minInterval: 2 ** 31, peers: [] });
  h.announcer.start();
  await settle();
  assert.deepEqual(h.clock.pending(), [86_400_000]);
  await h.announcer.stop();
});
