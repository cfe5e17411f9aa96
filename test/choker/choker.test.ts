import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Choker, UnknownPeerError } from '../../src/choker/index.js';
import { seededRandom } from '../support/seeded-random.js';

class ManualClock {
  time = 1_000_000;
  readonly now = () => this.time;
  advance(ms: number): void {
    this.time += ms;
  }
}

function unchoked(choker: Choker<string>, peers: string[]): string[] {
  return peers.filter((peer) => !choker.amChoking(peer)).sort();
}

/** Peers p0..p(n-1); peer pi sends us i KiB/s and we send it (n-i) KiB/s. */
function swarm(choker: Choker<string>, count: number, interested = true): string[] {
  const peers = Array.from({ length: count }, (_, i) => `p${i}`);
  peers.forEach((peer, i) => {
    choker.addPeer(peer);
    choker.setPeerInterested(peer, interested);
    choker.setRates(peer, { downloadRate: i * 1024, uploadRate: (count - i) * 1024 });
  });
  return peers;
}

test('only the upload slots plus one optimistic unchoke are unchoked, best download rates first', () => {
  const clock = new ManualClock();
  const choker = new Choker<string>({ now: clock.now, random: seededRandom(1) });
  const peers = swarm(choker, 10);
  const idle = ['idle1', 'idle2'];
  for (const peer of idle) choker.addPeer(peer);

  const decision = choker.rechoke(false);
  assert.deepEqual(decision.choke, []);
  assert.equal(decision.unchoke.length, 5);
  for (const fastest of ['p9', 'p8', 'p7', 'p6']) assert.ok(decision.unchoke.includes(fastest));
  const optimistic = choker.optimisticPeer!;
  assert.ok(decision.unchoke.includes(optimistic) && ['p0', 'p1', 'p2', 'p3', 'p4', 'p5'].includes(optimistic));
  assert.deepEqual(unchoked(choker, [...peers, ...idle]), decision.unchoke.sort());
});

test('seeding ranks by the rate we upload to the peer', () => {
  const clock = new ManualClock();
  const choker = new Choker<string>({ now: clock.now, random: seededRandom(2), uploadSlots: 3 });
  const peers = swarm(choker, 8);
  choker.rechoke(true);
  const regular = unchoked(choker, peers).filter((peer) => peer !== choker.optimisticPeer);
  assert.deepEqual(regular, ['p0', 'p1', 'p2']);
});

test('tick rechokes only when the interval has passed and reports only changes', () => {
  const clock = new ManualClock();
  const choker = new Choker<string>({ now: clock.now, random: seededRandom(3), uploadSlots: 2 });
  const peers = swarm(choker, 4);
  const first = choker.tick(false);
  assert.equal(first.unchoke.length, 3);
  assert.equal(choker.nextRechokeAt, clock.time + 10_000);

  choker.setRates('p0', { downloadRate: 1e6, uploadRate: 0 });
  clock.advance(9_999);
  assert.deepEqual(choker.tick(false), { unchoke: [], choke: [] }, 'not due yet');
  clock.advance(1);
  const second = choker.tick(false);
  assert.ok(!choker.amChoking('p0'), 'the now-fastest peer gets a regular slot');
  assert.ok(!choker.amChoking('p3'));
  assert.equal(unchoked(choker, peers).length, 3);
  for (const peer of second.unchoke) assert.ok(!first.unchoke.includes(peer), `${peer} was unchoked already`);
  for (const peer of second.choke) assert.ok(first.unchoke.includes(peer), `${peer} was not unchoked before`);
});

test('snubbed peers lose their regular slot while we leech but not while we seed', () => {
  const clock = new ManualClock();
  const choker = new Choker<string>({ now: clock.now, random: seededRandom(4), uploadSlots: 2 });
  const peers = swarm(choker, 4); // p3 and p2 are fastest
  for (const peer of peers) choker.setAmInterested(peer, true);
  for (const peer of ['p0', 'p1', 'p2']) choker.pieceReceived(peer);
  clock.advance(59_999);
  assert.equal(choker.isSnubbed('p3'), false);
  clock.advance(1);
  assert.equal(choker.isSnubbed('p3'), true, 'no piece for 60 s while we are interested');
  assert.equal(choker.isSnubbed('p2'), true);
  choker.pieceReceived('p2');
  assert.equal(choker.isSnubbed('p2'), false);

  choker.rechoke(false);
  const regular = unchoked(choker, peers).filter((peer) => peer !== choker.optimisticPeer);
  assert.ok(!regular.includes('p3'));
  assert.ok(regular.includes('p2'));

  choker.setAmInterested('p3', false);
  assert.equal(choker.isSnubbed('p3'), false, 'snubbing only counts while we want something');
  choker.setAmInterested('p3', true);
  assert.equal(choker.isSnubbed('p3'), false, 'the snub clock restarts when we become interested again');
});

test('the optimistic unchoke rotates every optimistic interval among choked interested peers', () => {
  const clock = new ManualClock();
  const choker = new Choker<string>({ now: clock.now, random: seededRandom(5), uploadSlots: 2 });
  const peers = swarm(choker, 7);
  const holders: string[] = [];
  for (let second = 0; second <= 300; second += 10) {
    choker.tick(false);
    const optimistic = choker.optimisticPeer!;
    assert.ok(!['p6', 'p5'].includes(optimistic), 'the optimistic slot is not one of the regular slots');
    assert.equal(unchoked(choker, peers).length, 3);
    holders.push(optimistic);
    clock.advance(10_000);
  }
  for (let i = 1; i < holders.length; i++) {
    if (i % 3 === 0) assert.notEqual(holders[i], holders[i - 1], `rotation due at ${i * 10} s`);
    else assert.equal(holders[i], holders[i - 1], `kept between rotations at ${i * 10} s`);
  }
  assert.ok(new Set(holders).size >= 4, 'the slot travels around the swarm');
});

test('a new optimistic peer is chosen early when the holder leaves or loses interest', () => {
  const clock = new ManualClock();
  const choker = new Choker<string>({ now: clock.now, random: seededRandom(6), uploadSlots: 1 });
  const peers = swarm(choker, 4);
  choker.rechoke(false);
  const first = choker.optimisticPeer!;
  choker.setPeerInterested(first, false);
  const decision = choker.rechoke(false);
  assert.deepEqual(decision.choke, [first]);
  assert.notEqual(choker.optimisticPeer, first);
  const second = choker.optimisticPeer!;
  assert.equal(choker.removePeer(second), true, 'it held a slot');
  assert.equal(choker.optimisticPeer, undefined);
  choker.rechoke(false);
  assert.ok(choker.optimisticPeer !== undefined && choker.optimisticPeer !== second);
  assert.equal(unchoked(choker, peers.filter((peer) => peer !== second)).length, 2);
  assert.equal(choker.removePeer(first), false, 'a choked peer held no slot');
  assert.throws(() => choker.setPeerInterested(second, true), UnknownPeerError);
});

test('newly connected peers are about three times as likely to get the optimistic slot', () => {
  const random = seededRandom(7);
  const wins = new Map<string, number>();
  const trials = 3000;
  for (let trial = 0; trial < trials; trial++) {
    const clock = new ManualClock();
    const choker = new Choker<string>({ now: clock.now, random, uploadSlots: 0 });
    for (const peer of ['old1', 'old2', 'old3', 'old4']) {
      choker.addPeer(peer);
      choker.setPeerInterested(peer, true);
    }
    clock.advance(60_000);
    choker.addPeer('new');
    choker.setPeerInterested('new', true);
    choker.rechoke(false);
    const winner = choker.optimisticPeer!;
    wins.set(winner, (wins.get(winner) ?? 0) + 1);
  }
  // Weights 3 : 1 : 1 : 1 : 1, so the new peer expects 3/7 of the wins and each old one 1/7.
  const newShare = (wins.get('new') ?? 0) / trials;
  assert.ok(newShare > 0.38 && newShare < 0.48, `new peer won ${newShare}`);
  for (const peer of ['old1', 'old2', 'old3', 'old4']) {
    const share = (wins.get(peer) ?? 0) / trials;
    assert.ok(share > 0.11 && share < 0.18, `${peer} won ${share}`);
  }
});
