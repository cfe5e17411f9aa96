import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Bitfield } from '../../src/bitfield/index.js';
import { PiecePicker, type BlockRequest } from '../../src/picker/index.js';
import { seededRandom } from '../support/seeded-random.js';

const KiB = 1024;

function bitfieldOf(length: number, pieces: Iterable<number>): Bitfield {
  const bitfield = new Bitfield(length);
  for (const piece of pieces) bitfield.set(piece);
  return bitfield;
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, i) => from + i);
}

function key(request: BlockRequest): string {
  return `${request.piece}/${request.begin}`;
}

/** Delivers every block of `requests` from `peer` and verifies the pieces that complete. */
function deliver(picker: PiecePicker<string>, peer: string, requests: BlockRequest[]): void {
  for (const { piece, begin } of requests) {
    if (picker.blockReceived(peer, piece, begin).pieceComplete) picker.pieceVerified(piece);
  }
}

test('piece and block geometry, including a short last piece', () => {
  const picker = new PiecePicker({ pieceCount: 3, pieceLength: 40 * KiB, totalLength: 80 * KiB + 100 });
  assert.equal(picker.pieceSize(0), 40 * KiB);
  assert.equal(picker.pieceSize(2), 100);
  assert.equal(picker.blockCount(0), 3);
  assert.equal(picker.blockCount(2), 1);
  assert.deepEqual(picker.blocksOf(0), [
    { piece: 0, begin: 0, length: 16 * KiB },
    { piece: 0, begin: 16 * KiB, length: 16 * KiB },
    { piece: 0, begin: 32 * KiB, length: 8 * KiB },
  ]);
  assert.deepEqual(picker.blocksOf(2), [{ piece: 2, begin: 0, length: 100 }]);
  assert.throws(() => new PiecePicker({ pieceCount: 3, pieceLength: 40 * KiB, totalLength: 80 * KiB }), RangeError);
  assert.throws(() => new PiecePicker({ pieceCount: 3, pieceLength: 40 * KiB, totalLength: 120 * KiB + 1 }), RangeError);
  assert.throws(() => picker.blocksOf(3), RangeError);
});

test('rarest pieces are picked first', () => {
  const picker = new PiecePicker<string>({ pieceCount: 10, pieceLength: 16 * KiB, totalLength: 160 * KiB, random: seededRandom(1) });
  const a = bitfieldOf(10, range(0, 10));
  picker.addPeerBitfield('a', a);
  picker.addPeerBitfield('b', bitfieldOf(10, range(5, 10)));
  picker.peerHave('c', 9);
  picker.peerHave('c', 8);
  picker.peerHave('d', 9);
  const order = picker.pickBlocks('a', a, 10).map((r) => r.piece);
  assert.deepEqual(order.slice(0, 5).sort(), [0, 1, 2, 3, 4]); // availability 1
  assert.deepEqual(order.slice(5, 8).sort(), [5, 6, 7]); // availability 2
  assert.deepEqual(order.slice(8), [8, 9]); // availability 3, then 4
  picker.checkInvariants();
});

test('ties between equally rare pieces are broken at random', () => {
  const firstPicks = new Set<number>();
  for (let seed = 0; seed < 40; seed++) {
    const picker = new PiecePicker<string>({ pieceCount: 20, pieceLength: 16 * KiB, totalLength: 320 * KiB, random: seededRandom(seed) });
    picker.peerHasAll('seed');
    firstPicks.add(picker.pickBlocks('seed', 'all', 1)[0].piece);
  }
  assert.ok(firstPicks.size >= 10, `only ${firstPicks.size} distinct first picks over 40 seeds`);
});

test('started pieces are finished before new ones, preferring the ones this peer works on', () => {
  const picker = new PiecePicker<string>({ pieceCount: 8, pieceLength: 64 * KiB, totalLength: 512 * KiB, random: seededRandom(2) });
  picker.peerHasAll('a');
  picker.peerHasAll('b');
  const first = picker.pickBlocks('a', 'all', 2);
  assert.equal(first[0].piece, first[1].piece);
  const second = picker.pickBlocks('b', 'all', 2);
  assert.deepEqual(second.map((r) => r.piece), [first[0].piece, first[0].piece], 'b finishes the piece a started');

  const x = first[0].piece;
  const y = picker.pickBlocks('b', 'all', 4)[0].piece;
  assert.notEqual(x, y);
  // Free one block of y (b's) and then one of x (a's): y is now the older partial piece.
  assert.ok(picker.cancelRequest('b', y, 0));
  assert.ok(picker.cancelRequest('a', x, 0));
  assert.deepEqual(picker.pickBlocks('a', 'all', 1), [{ piece: x, begin: 0, length: 16 * KiB }]);
  assert.deepEqual(picker.pickBlocks('b', 'all', 1), [{ piece: y, begin: 0, length: 16 * KiB }]);
  picker.checkInvariants();
});

test('pieces we have and pieces the peer lacks are never picked', () => {
  const have = bitfieldOf(6, [0, 2]);
  const picker = new PiecePicker<string>({ pieceCount: 6, pieceLength: 16 * KiB, totalLength: 96 * KiB, have });
  const peerHas = bitfieldOf(6, [0, 1, 2, 3]);
  picker.addPeerBitfield('p', peerHas);
  assert.equal(picker.missingCount, 4);
  const picked = picker.pickBlocks('p', peerHas, 10).map((r) => r.piece).sort();
  assert.deepEqual(picked, [1, 3]);
  assert.equal(picker.inEndgame, false, 'pieces 4 and 5 are still unrequested');
  assert.deepEqual(picker.pickBlocks('p', peerHas, 10), []);
});

test('a piece a later bitfield takes away is not picked, even one this peer already works on', () => {
  const picker = new PiecePicker<string>({ pieceCount: 1, pieceLength: 32 * KiB, totalLength: 32 * KiB });
  picker.peerHasAll('p');
  assert.deepEqual(picker.pickBlocks('p', 'all', 1).map(key), ['0/0']);
  const none = new Bitfield(1);
  picker.addPeerBitfield('p', none);
  assert.deepEqual(picker.pickBlocks('p', none, 1), []);
});

test('a block is handed out once until endgame, then to each other peer at most once', () => {
  const picker = new PiecePicker<string>({ pieceCount: 4, pieceLength: 32 * KiB, totalLength: 128 * KiB, random: seededRandom(3) });
  for (const peer of ['a', 'b', 'c']) picker.peerHasAll(peer);
  const seen = new Set<string>();
  for (const peer of ['a', 'b', 'a', 'b']) {
    for (const request of picker.pickBlocks(peer, 'all', 2)) {
      assert.ok(!seen.has(key(request)), `block ${key(request)} handed out twice`);
      seen.add(key(request));
    }
  }
  assert.equal(seen.size, 8);
  assert.ok(picker.inEndgame);

  const aHad = new Set(picker.outstandingFor('a').map(key));
  const duplicatesForA = picker.pickBlocks('a', 'all', 8);
  assert.equal(duplicatesForA.length, 4, 'a may only duplicate the blocks b was asked for');
  for (const request of duplicatesForA) assert.ok(!aHad.has(key(request)));
  assert.deepEqual(picker.pickBlocks('a', 'all', 8), [], 'never the same peer twice');
  const forC = picker.pickBlocks('c', 'all', 8);
  assert.equal(forC.length, 8);
  picker.checkInvariants();

  const block = forC.at(-1)!; // one of b's blocks, duplicated to a and c
  const receipt = picker.blockReceived('c', block.piece, block.begin);
  assert.equal(receipt.accepted, true);
  assert.deepEqual(receipt.duplicateRequestsToCancel.map((d) => d.peer).sort(), ['a', 'b']);
  for (const duplicate of receipt.duplicateRequestsToCancel) {
    assert.deepEqual({ piece: duplicate.piece, begin: duplicate.begin, length: duplicate.length }, block);
  }
  assert.equal(picker.blockReceived('a', block.piece, block.begin).accepted, false, 'late duplicate is not needed');
  assert.ok(!picker.outstandingFor('a').some((r) => key(r) === key(block)));
  picker.checkInvariants();
});

test('endgame duplicates go to the least-requested blocks and only to peers holding the piece', () => {
  const picker = new PiecePicker<string>({ pieceCount: 2, pieceLength: 32 * KiB, totalLength: 64 * KiB, random: seededRandom(4) });
  const onlyPiece1 = bitfieldOf(2, [1]);
  picker.peerHasAll('a');
  picker.addPeerBitfield('b', onlyPiece1);
  picker.peerHasAll('c');
  picker.pickBlocks('a', 'all', 4);
  assert.ok(picker.inEndgame);
  assert.deepEqual(picker.pickBlocks('b', onlyPiece1, 4).map((r) => r.piece), [1, 1]);
  const forC = picker.pickBlocks('c', 'all', 2);
  assert.deepEqual(forC.map((r) => r.piece), [0, 0], 'blocks of piece 0 have one requester, those of piece 1 two');
});

test('removing a peer returns its requests and its availability', () => {
  const picker = new PiecePicker<string>({ pieceCount: 4, pieceLength: 16 * KiB, totalLength: 64 * KiB, random: seededRandom(5) });
  const aHas = bitfieldOf(4, [0, 1]);
  picker.addPeerBitfield('a', aHas);
  picker.peerHave('b', 1);
  const requested = picker.pickBlocks('a', aHas, 1);
  assert.deepEqual(requested.map((r) => r.piece), [0], 'piece 0 is rarer');
  picker.removePeer('a');
  picker.checkInvariants();
  assert.deepEqual(picker.outstandingFor('a'), []);
  // Piece 1 is now the rarest held piece; piece 0 (started) is picked first by whoever has it.
  const cHas = bitfieldOf(4, [0, 1]);
  picker.addPeerBitfield('c', cHas);
  assert.deepEqual(picker.pickBlocks('c', cHas, 2).map((r) => r.piece), [0, 1]);
  picker.checkInvariants();
});

test('a failed piece is fetched again and its contributors are reported', () => {
  const picker = new PiecePicker<string>({ pieceCount: 1, pieceLength: 32 * KiB, totalLength: 32 * KiB });
  picker.peerHasAll('a');
  picker.peerHasAll('b');
  const [first] = picker.pickBlocks('a', 'all', 1);
  const [second] = picker.pickBlocks('b', 'all', 1);
  assert.equal(picker.blockReceived('a', first.piece, first.begin).pieceComplete, false);
  assert.equal(picker.blockReceived('b', second.piece, second.begin).pieceComplete, true);
  assert.deepEqual(picker.pieceFailed(0).sort(), ['a', 'b']);
  picker.checkInvariants();
  assert.equal(picker.have(0), false);
  assert.equal(picker.pickBlocks('a', 'all', 4).length, 2);
  deliver(picker, 'a', picker.outstandingFor('a'));
  assert.ok(picker.isComplete);
  assert.equal(picker.missingCount, 0);
  assert.deepEqual(picker.pickBlocks('a', 'all', 4), []);
  picker.checkInvariants();
});

test('a had piece that fails a re-check is fetched again', () => {
  const picker = new PiecePicker<string>({ pieceCount: 2, pieceLength: 16 * KiB, totalLength: 32 * KiB, have: Bitfield.full(2) });
  assert.ok(picker.isComplete);
  assert.deepEqual(picker.pieceFailed(1), []);
  assert.deepEqual(picker.pickBlocks('a', 'all', 4).map((r) => r.piece), [1]);
  picker.checkInvariants();
});

test('received data is accepted only for blocks that are still needed', () => {
  const picker = new PiecePicker<string>({ pieceCount: 2, pieceLength: 32 * KiB, totalLength: 64 * KiB, random: seededRandom(6) });
  picker.peerHasAll('a');
  const [request] = picker.pickBlocks('a', 'all', 1);
  const other = 1 - request.piece;
  assert.equal(picker.blockReceived('a', request.piece, request.begin + 1).accepted, false, 'unaligned offset');
  assert.equal(picker.blockReceived('a', request.piece, 32 * KiB).accepted, false, 'past the piece end');
  assert.equal(picker.blockReceived('a', 7, 0).accepted, false, 'no such piece');
  assert.equal(picker.blockReceived('a', other, 0).accepted, false, 'untouched piece was never requested');
  assert.ok(picker.isRequestedFrom('a', request.piece, request.begin));
  assert.equal(picker.isRequestedFrom('a', request.piece, request.begin + 1), false, 'unaligned offset');
  assert.equal(picker.isRequestedFrom('a', 7, 0), false, 'no such piece');
  assert.equal(picker.isRequestedFrom('b', request.piece, request.begin), false, 'another peer');
  assert.equal(picker.outstandingCount('a'), 1);
  // A request that timed out and was cancelled may still be answered; the data is good.
  assert.ok(picker.cancelRequest('a', request.piece, request.begin));
  assert.equal(picker.isRequestedFrom('a', request.piece, request.begin), false);
  assert.equal(picker.outstandingCount('a'), 0);
  assert.equal(picker.cancelRequest('a', request.piece, request.begin), false);
  assert.equal(picker.blockReceived('a', request.piece, request.begin).accepted, true);
  assert.equal(picker.blockReceived('a', request.piece, request.begin).accepted, false, 'already received');
  picker.checkInvariants();
});

test('cancelAllRequests (peer choked us) frees every request of that peer', () => {
  const picker = new PiecePicker<string>({ pieceCount: 4, pieceLength: 32 * KiB, totalLength: 128 * KiB, random: seededRandom(7) });
  picker.peerHasAll('a');
  picker.peerHasAll('b');
  const picked = picker.pickBlocks('a', 'all', 4);
  assert.deepEqual(picker.cancelAllRequests('a').map(key).sort(), picked.map(key).sort());
  assert.deepEqual(picker.outstandingFor('a'), []);
  assert.deepEqual(picker.pickBlocks('b', 'all', 4).map(key).sort(), picked.map(key).sort(), 'the started pieces come first');
  picker.checkInvariants();
});

test('web seeds claim contiguous runs that peers then leave alone', () => {
  const picker = new PiecePicker<string>({ pieceCount: 20, pieceLength: 32 * KiB, totalLength: 640 * KiB, random: seededRandom(8) });
  picker.peerHasAll('http://seed.invalid/');
  picker.peerHasAll('peer');
  const peerBlocks = picker.pickBlocks('peer', 'all', 6);
  const peerPieces = new Set(peerBlocks.map((r) => r.piece));
  const runs = picker.pickPieces('http://seed.invalid/', 17, 5);
  let claimed = 0;
  for (const run of runs) {
    assert.ok(run.count >= 1 && run.count <= 5);
    for (let piece = run.first; piece < run.first + run.count; piece++) {
      assert.ok(!peerPieces.has(piece), `piece ${piece} is already being fetched from the peer`);
    }
    claimed += run.count;
  }
  assert.equal(claimed, 17, 'three pieces went to the peer, the web seed gets the other 17');
  assert.ok(picker.inEndgame);
  assert.deepEqual(picker.pickPieces('http://seed.invalid/', 5), [], 'nothing untouched is left');
  assert.equal(picker.outstandingFor('http://seed.invalid/').length, 34);
  picker.checkInvariants();

  // The web seed delivers its first run; the blocks are accepted and complete their pieces.
  const [run] = runs;
  for (let piece = run.first; piece < run.first + run.count; piece++) {
    const receipts = picker.blocksOf(piece).map((b) => picker.blockReceived('http://seed.invalid/', b.piece, b.begin));
    assert.ok(receipts.every((r) => r.accepted));
    assert.ok(receipts.at(-1)!.pieceComplete);
    picker.pieceVerified(piece);
  }
  picker.checkInvariants();
});

test('web seed runs are as long as the untouched stretch allows', () => {
  const picker = new PiecePicker<string>({ pieceCount: 10, pieceLength: 16 * KiB, totalLength: 160 * KiB, have: bitfieldOf(10, [4]) });
  picker.peerHasAll('ws');
  const runs = picker.pickPieces('ws', 10).sort((x, y) => x.first - y.first);
  assert.deepEqual(runs, [
    { first: 0, count: 4 },
    { first: 5, count: 5 },
  ]);
});

test('interest: does the peer have a piece we lack', () => {
  const picker = new PiecePicker<string>({ pieceCount: 10, pieceLength: 16 * KiB, totalLength: 160 * KiB, have: bitfieldOf(10, [0, 1, 9]) });
  assert.equal(picker.interestingTo(bitfieldOf(10, [0, 1, 9])), false);
  assert.equal(picker.interestingTo(bitfieldOf(10, [])), false);
  assert.equal(picker.interestingTo(bitfieldOf(10, [1, 8])), true);
  assert.equal(picker.interestingTo('all'), true);
  assert.throws(() => picker.interestingTo(new Bitfield(11)), RangeError);
  const complete = new PiecePicker({ pieceCount: 2, pieceLength: 16, totalLength: 20, have: Bitfield.full(2) });
  assert.equal(complete.interestingTo('all'), false);
});

test('HAVE and BITFIELD input is validated and availability follows it', () => {
  const picker = new PiecePicker<string>({ pieceCount: 4, pieceLength: 16 * KiB, totalLength: 64 * KiB });
  assert.throws(() => picker.peerHave('a', 4), RangeError);
  assert.throws(() => picker.addPeerBitfield('a', new Bitfield(5)), RangeError);
  picker.addPeerBitfield('a', bitfieldOf(4, [0]));
  picker.addPeerBitfield('a', bitfieldOf(4, [1])); // a second bitfield replaces the first
  picker.addPeerBitfield('b', Bitfield.full(4)); // counted as a seed
  picker.peerHave('b', 2);
  picker.peerHasAll('a');
  picker.checkInvariants();
  picker.removePeer('a');
  picker.removePeer('b');
  picker.checkInvariants();
});

test('50k pieces, several peers: every block is picked, delivered and verified', () => {
  const pieceCount = 50_000;
  const picker = new PiecePicker<string>({ pieceCount, pieceLength: 32 * KiB, totalLength: pieceCount * 32 * KiB - 1000, random: seededRandom(9) });
  const random = seededRandom(10);
  const bitfields = new Map<string, Bitfield | 'all'>([['seed', 'all']]);
  for (const peer of ['p1', 'p2', 'p3', 'p4']) {
    const bitfield = new Bitfield(pieceCount);
    for (let piece = 0; piece < pieceCount; piece++) if (random() < 0.6) bitfield.set(piece);
    bitfields.set(peer, bitfield);
  }
  for (const [peer, has] of bitfields) {
    if (has === 'all') picker.peerHasAll(peer);
    else picker.addPeerBitfield(peer, has);
  }
  let rounds = 0;
  let blocks = 0;
  while (!picker.isComplete) {
    rounds++;
    for (const [peer, has] of bitfields) {
      const requests = picker.pickBlocks(peer, has, 250);
      blocks += requests.length;
      deliver(picker, peer, requests);
    }
    assert.ok(rounds < 1000, 'download does not converge');
  }
  assert.equal(blocks, pieceCount * 2);
  picker.checkInvariants();
});

test('an endgame block stays requested until its last requester lets go, whichever asked first', () => {
  const picker = new PiecePicker<string>({ pieceCount: 1, pieceLength: 16 * KiB, totalLength: 16 * KiB });
  for (const peer of ['a', 'b', 'c']) picker.peerHasAll(peer);
  for (const peer of ['a', 'b', 'c']) assert.deepEqual(picker.pickBlocks(peer, 'all', 1).map(key), ['0/0']);
  assert.ok(picker.cancelRequest('a', 0, 0), 'the first requester withdraws');
  assert.equal(picker.cancelRequest('a', 0, 0), false);
  assert.deepEqual(picker.pickBlocks('b', 'all', 1), [], 'b is still asked');
  assert.deepEqual(picker.pickBlocks('a', 'all', 1).map(key), ['0/0'], 'a may ask again');
  picker.checkInvariants();
  assert.ok(picker.cancelRequest('c', 0, 0));
  assert.ok(picker.cancelRequest('b', 0, 0));
  assert.deepEqual(picker.outstandingFor('a').map(key), ['0/0']);
  picker.checkInvariants();
  const receipt = picker.blockReceived('b', 0, 0);
  assert.ok(receipt.accepted && receipt.pieceComplete, 'a late answer from b is still good data');
  assert.deepEqual(receipt.duplicateRequestsToCancel.map((d) => d.peer), ['a']);
  assert.deepEqual(picker.outstandingFor('a'), []);
  picker.checkInvariants();
});
